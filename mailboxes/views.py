"""The You page's mailbox card: connect (or reconnect) with a password or with Google or
Microsoft 365 sign-in, and disconnect."""

import secrets

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .forms import MailboxForm
from .oauth import authorize_url, code_exchange, pkce_pair, providers
from .selectors import mailbox_of
from .services import (
    MailboxRefused,
    mailbox_connect,
    mailbox_connect_oauth,
    mailbox_disconnect,
)
from .transport import MailboxError

OAUTH_SESSION_KEY = "mailbox_oauth"


@require_POST
def mailbox_connect_view(request):
    """Both logins are tried first; a refusal shows the form again (as typed, but the
    password) with the server's words on the field at fault."""
    form = MailboxForm(request.POST)
    if form.is_valid():
        try:
            mailbox = mailbox_connect(request.user, **form.cleaned_data)
        except MailboxRefused as refused:
            for field, errors in refused.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Mailbox %(address)s connected.") % {
                "address": mailbox.address})
            return redirect("profile")
    return render(request, "mailboxes/connect.html", {"form": form}, status=400)


@require_POST
def mailbox_disconnect_view(request):
    mailbox = mailbox_of(request.user)
    if mailbox is not None:
        mailbox_disconnect(mailbox)
        messages.success(request, _("Mailbox disconnected: your email goes out through the "
                                    "app's mail server again."))
    return redirect("profile")


@require_GET
def mailbox_oauth_start(request, provider: str):
    """Off to the provider's sign-in (authorization code with PKCE); the state and the
    verifier wait in the session for the callback."""
    found = providers().get(provider)
    if found is None or not found.configured:
        raise Http404(_("This sign-in is not set up (see the README)."))
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    request.session[OAUTH_SESSION_KEY] = {"state": state, "verifier": verifier,
                                          "provider": provider}
    return redirect(authorize_url(found, redirect_uri=_redirect_uri(), state=state,
                                  challenge=challenge, login_hint=request.user.email))


@require_GET
def mailbox_oauth_callback(request):
    """Back from the provider: the code for tokens, then the mailbox connected (both XOAUTH2
    logins tried first). Any refusal is said on the You page."""
    pending = request.session.pop(OAUTH_SESSION_KEY, None)
    if not pending or not secrets.compare_digest(pending["state"],
                                                 request.GET.get("state", "")):
        messages.error(request, _("The sign-in did not come from this page; start it again."))
        return redirect("profile")
    provider = providers()[pending["provider"]]
    if "code" not in request.GET:
        words = (request.GET.get("error_description") or request.GET.get("error")
                 or _("no code"))
        messages.error(request, _("%(provider)s sign-in was not completed: %(reason)s") % {
            "provider": provider.label, "reason": words})
        return redirect("profile")
    try:
        tokens = code_exchange(provider, code=request.GET["code"],
                               verifier=pending["verifier"], redirect_uri=_redirect_uri())
        mailbox = mailbox_connect_oauth(request.user, provider, tokens)
    except MailboxError as error:
        messages.error(request, error.message)
    except MailboxRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("Mailbox %(address)s connected with %(provider)s.") % {
            "address": mailbox.address, "provider": provider.label})
    return redirect("profile")


def _redirect_uri() -> str:
    return f"{settings.SITE_URL}{reverse('mailbox-oauth-callback')}"
