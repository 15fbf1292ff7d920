"""The You page: the user's own settings, one card (and one form) each: name, language, time
zone, email signature, password. Each card posts to its own URL; a refused form comes back
on the whole page with what was typed and the errors (400)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .forms import LanguageForm, NameForm, PasswordForm, SignatureForm, TimeZoneForm
from .services import (
    user_language_set,
    user_name_set,
    user_signature_set,
    user_time_zone_set,
)


def _page(request, status: int = 200, **bound):
    user = request.user
    forms = {
        "name_form": NameForm(initial={"first_name": user.first_name,
                                       "last_name": user.last_name}),
        "language_form": LanguageForm(initial={"language": user.language}),
        "signature_form": SignatureForm(initial={"signature": user.signature}),
        "password_form": PasswordForm(user),
        "form": TimeZoneForm(initial={"time_zone": user.time_zone}),
    } | bound
    return render(request, "accounts/profile.html", forms, status=status)


@require_http_methods(["GET", "POST"])
def profile(request):
    """Your settings. POST here sets the time zone that decides which tasks are due today."""
    if request.method == "GET":
        return _page(request)
    form = TimeZoneForm(request.POST)
    if form.is_valid():
        user_time_zone_set(request.user, form.cleaned_data["time_zone"])
        messages.success(request, _("Time zone saved."))
        return redirect("profile")
    return _page(request, 400, form=form)


@require_POST
def profile_language(request):
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return _page(request, 400, language_form=form)
    language = form.cleaned_data["language"]
    user_language_set(request.user, language)
    # The login page's menu remembers a language in a cookie; it now follows this choice, so
    # "your browser's language" means the browser's, and the login page after logging out
    # speaks the user's language.
    request.COOKIES.pop(settings.LANGUAGE_COOKIE_NAME, None)
    chosen = language or translation.get_language_from_request(request)
    # The confirmation is read on the next page: in the language it will be shown in.
    with translation.override(chosen):
        messages.success(request, _("Language saved."))
    response = redirect("profile")
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language,
                            max_age=settings.LANGUAGE_COOKIE_AGE,
                            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                            secure=settings.LANGUAGE_COOKIE_SECURE,
                            httponly=settings.LANGUAGE_COOKIE_HTTPONLY)
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@require_POST
def profile_name(request):
    form = NameForm(request.POST)
    if form.is_valid():
        user_name_set(request.user, **form.cleaned_data)
        messages.success(request, _("Name saved."))
        return redirect("profile")
    return _page(request, 400, name_form=form)


@require_POST
def profile_signature(request):
    form = SignatureForm(request.POST)
    if form.is_valid():
        user_signature_set(request.user, form.cleaned_data["signature"])
        messages.success(request, _("Signature saved.") if request.user.signature
                         else _("Signature removed."))
        return redirect("profile")
    return _page(request, 400, signature_form=form)


@require_POST
def profile_password(request):
    form = PasswordForm(request.user, request.POST)
    if form.is_valid():
        user = form.save()
        # Keep this session signed in; the user's other sessions end with the old password.
        update_session_auth_hash(request, user)
        messages.success(request, _("Password changed."))
        return redirect("profile")
    return _page(request, 400, password_form=form)
