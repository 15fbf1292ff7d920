"""Pages: compose and send from a person's page (with a live preview), the emails sent to a
person, the seller's Sent page and their templates. No inline script: htmx attributes only."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from people.models import Person
from salesactions.templatetags.when import FORMATS

from .forms import TEMPLATE_MERGE_MENU, ComposeForm, TemplateForm, merge_menu
from .message import html_body
from .models import SalesEmail
from .selectors import email_list_for_user, template_list_for_user
from .services import (
    EmailRefused,
    email_cancel,
    merged_message,
    queue_email,
    template_delete,
    template_editable_by,
    template_save,
)

IN_FLIGHT = (SalesEmail.Status.QUEUED, SalesEmail.Status.HELD, SalesEmail.Status.SENDING)
PERSON_LIST_LIMIT = 50


def _person_emails(request, person):
    return list(email_list_for_user(request.user).filter(person=person)[:PERSON_LIST_LIMIT])


def _sent_context(request, person) -> dict:
    emails = _person_emails(request, person)
    return {"person": person, "emails": emails,
            "in_flight": _in_flight(emails)}


def _in_flight(emails) -> bool:
    """Is one of them about to go out (the list polls while so)? A scheduled email waits for
    hours: it does not count until its time."""
    now = timezone.now()
    return any(email.status in IN_FLIGHT and not (email.send_at and email.send_at > now)
               for email in emails)


def _compose_form(request, data=None, initial=None) -> ComposeForm:
    return ComposeForm(data, initial=initial, templates=template_list_for_user(request.user),
                       zone=request.user.zone)


def _panel(request, person, form, *, queued=None, status=200):
    context = {"form": form, "queued": queued, "merge_menu": merge_menu(),
               "compose_only": _compose_only(request), **_sent_context(request, person)}
    template = ("emails/partials/emails_panel.html" if request.htmx
                else "emails/person_emails.html")
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def person_emails(request, person_id: int):
    """The person's email panel: compose (a template fills subject and body) and what was
    sent to them. GET renders it (a fragment for htmx, a page otherwise); POST sends."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    if request.method == "GET":
        initial = {"track": True}
        template = _template_from(request, request.GET.get("template"))
        if template is not None:
            initial |= {"template": template, "subject": template.subject,
                        "body": template.body}
        return _panel(request, person, _compose_form(request, initial=initial))
    form = _compose_form(request, request.POST)
    if form.is_valid():
        try:
            email = queue_email(person=person, sender=request.user,
                                subject=form.cleaned_data["subject"],
                                body=form.cleaned_data["body"],
                                track=form.cleaned_data["track"],
                                template=form.cleaned_data["template"],
                                send_at=form.cleaned_data["send_at"])
        except EmailRefused as refused:
            field = "send_date" if refused.field == "send_at" else refused.field
            form.add_error(field if field in form.fields else None, refused.message)
        else:
            if not request.htmx:
                messages.success(request, _queued_text(email))
                return redirect("emails:person-emails", person_id=person.pk)
            response = _panel(request, person,
                              _compose_form(request, initial={"track": True}), queued=email)
            response["HX-Trigger"] = "timeline-changed"
            return response
    # htmx swaps only 2xx answers: the form with its errors comes back as 200 there.
    return _panel(request, person, form, status=200 if request.htmx else 400)


def _compose_only(request) -> bool:
    """The person page's and the task run's composer: the form without the sent list (their
    timeline shows the emails)."""
    return (request.GET.get("part") or request.POST.get("part")) == "compose"


def _queued_text(email: SalesEmail) -> str:
    if email.send_at:
        moment = date_filter(timezone.localtime(email.send_at, email.sender.zone),
                             FORMATS["day_time"])
        return _("Email to %(address)s scheduled for %(moment)s (%(zone)s). You can cancel it "
                 "until then.") % {"address": email.to_email, "moment": moment,
                                   "zone": email.sender.zone}
    if email.status == SalesEmail.Status.HELD:
        return _("Email to %(address)s accepted and held: %(reason)s It is checked again "
                 "before it goes out.") % {"address": email.to_email,
                                           "reason": email.hold_reason}
    return _("Email to %(address)s queued; it goes out in a moment.") % {
        "address": email.to_email}


def _template_from(request, value):
    if not value or not str(value).isdigit():
        return None
    return template_list_for_user(request.user).filter(pk=int(value)).first()


@require_POST
def preview(request, person_id: int):
    """The merged subject and body as the person will get them from the user, the user's
    signature after the body (htmx fragment)."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    return preview_response(request, person, sender=request.user)


def preview_response(request, person, *, sender, extra: dict | None = None):
    """The preview fragment of the posted subject and body merged for ``person`` as ``sender``
    sends them (their signature), with ``extra`` merge values. The campaigns' review queue
    uses it for the seller whose campaign queued the email."""
    subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
    context = {"person": person}
    if not subject.strip() and not body.strip():
        context["empty"] = True
    else:
        try:
            merged_subject, merged_body = merged_message(
                person=person, sender=sender, subject=subject or "(no subject)",
                body=body or " ", extra=extra)
        except EmailRefused as refused:
            context["error"] = refused.message
        else:
            context |= {"subject": merged_subject if subject.strip() else "",
                        "html": mark_safe(html_body(merged_body) if body.strip() else "")}  # noqa: S308 - html_body escapes
    return render(request, "emails/partials/preview.html", context)


@require_GET
def person_sent(request, person_id: int):
    """The emails sent to a person (polled while one is on its way)."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    return render(request, "emails/partials/sent_list.html", _sent_context(request, person))


@require_POST
def cancel(request, pk: int):
    """Cancel an email that waits to go out (a scheduled one, usually); back where it was."""
    email = get_object_or_404(email_list_for_user(request.user), pk=pk)
    try:
        email_cancel(email, by=request.user)
    except EmailRefused as refused:
        messages.error(request, _("Not cancelled “%(subject)s”: %(reason)s") % {
            "subject": email.subject, "reason": refused.message})
    else:
        messages.success(request, _("Cancelled “%(subject)s” to %(address)s.") % {
            "subject": email.subject, "address": email.to_email})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("people:detail", args=[email.person_id])
    return redirect(target)


@require_GET
def sent(request):
    """The Sent page: a seller's emails (an admin's view holds everyone's), newest first,
    with status and the timeline of events."""
    emails = email_list_for_user(request.user)
    status = request.GET.get("status", "")
    if status in SalesEmail.Status.values:
        emails = emails.filter(status=status)
    page = Paginator(emails, 50).get_page(request.GET.get("page"))
    return render(request, "emails/sent.html", {
        "page": page, "emails": page.object_list, "status": status,
        "statuses": SalesEmail.Status.choices,
        "in_flight": _in_flight(page.object_list)})


@require_http_methods(["GET", "POST"])
def templates_page(request):
    """The user's templates and the shared ones; a form to add one."""
    form = TemplateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            template_save(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {
                "name": form.cleaned_data["name"]})
            return redirect("emails:templates")
    templates = [(template, template_editable_by(template, request.user))
                 for template in template_list_for_user(request.user)]
    return render(request, "emails/templates.html",
                  {"form": form, "templates": templates, "merge_menu": TEMPLATE_MERGE_MENU},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def template_edit(request, pk: int):
    template = get_object_or_404(template_list_for_user(request.user), pk=pk)
    if not template_editable_by(template, request.user):
        raise PermissionDenied(_("You cannot change this template."))
    initial = {"name": template.name, "subject": template.subject, "body": template.body,
               "shared": template.shared}
    form = TemplateForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        values = {"shared": template.shared} | form.cleaned_data
        try:
            template_save(user=request.user, template=template, **values)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("emails:templates")
    return render(request, "emails/template_edit.html",
                  {"form": form, "template": template, "merge_menu": TEMPLATE_MERGE_MENU},
                  status=400 if form.errors else 200)


@require_POST
def template_remove(request, pk: int):
    template = get_object_or_404(template_list_for_user(request.user), pk=pk)
    template_delete(user=request.user, template=template)
    messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
    return redirect("emails:templates")


def _add_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)
