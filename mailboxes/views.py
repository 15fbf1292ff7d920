"""The You page's mailbox card: connect (or reconnect) and disconnect."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .forms import MailboxForm
from .selectors import mailbox_of
from .services import MailboxRefused, mailbox_connect, mailbox_disconnect


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
            messages.success(request, f"Mailbox {mailbox.address} connected.")
            return redirect("profile")
    return render(request, "mailboxes/connect.html", {"form": form}, status=400)


@require_POST
def mailbox_disconnect_view(request):
    mailbox = mailbox_of(request.user)
    if mailbox is not None:
        mailbox_disconnect(mailbox)
        messages.success(request, "Mailbox disconnected: your email goes out through the "
                                  "app's mail server again.")
    return redirect("profile")
