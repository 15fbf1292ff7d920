"""Login throttling (django-axes) as the login page shows it, and the client address it counts.

Settings: ``AXES_FAILURE_LIMIT`` failed logins for one username, or from one address, lock it
for ``AXES_COOLOFF_MINUTES`` (README "Security"). The lockout is answered 429 with the login
page's message; an admin unlocks early with ``manage.py axes_reset_username NAME`` (or
``axes_reset_ip ADDRESS``, ``axes_reset``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render


def cooloff_minutes() -> int:
    return round(settings.AXES_COOLOFF_TIME * 60)


def login_rules() -> dict:
    return {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": cooloff_minutes()}


def client_ip(request) -> str | None:
    """The address a request came from. Behind ``TRUSTED_PROXY_COUNT`` proxies (``HTTPS=true``
    implies one) it is the address the outermost trusted proxy saw, from X-Forwarded-For;
    otherwise the socket's peer, so a forged header counts for nothing."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, saying why logging in is refused and for how long (429)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return render(request, "registration/locked_out.html",
                  {"username": username, **login_rules()},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **login_rules()}
