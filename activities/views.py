"""Pages: the person's call panel (form and history) and the dialer settings."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import admin_required
from people.models import Person
from syncing.settings.selectors import salesforce_connection_get

from .forms import CallForm, CallOutcomeForm, CallReasonForm, CallSettingsForm
from .models import CallOutcome, CallReason
from .selectors import (
    call_outcome_list,
    call_reason_list,
    call_settings_get,
    person_activity_history,
)
from .services import (
    call_log,
    call_outcome_create,
    call_outcome_delete,
    call_reason_create,
    call_reason_delete,
    call_settings_update,
)


def _call_form(person, data=None) -> CallForm:
    return CallForm(data, person=person, call_settings=call_settings_get(),
                    outcomes=call_outcome_list(), reasons=call_reason_list())


def _history_context(person) -> dict:
    history = person_activity_history(person)
    return {"person": person, "history": history,
            "in_flight": any(item.in_flight for item in history),
            "salesforce_url": salesforce_connection_get().url}


def _form_only(request) -> bool:
    """The person page's and the task run's call form: no history (their timeline shows it)."""
    return (request.GET.get("part") or request.POST.get("part")) == "form"


def _panel(request, person, form, *, logged=None, status=200):
    if request.htmx and _form_only(request):
        response = render(request, "activities/partials/call_form_panel.html",
                          {"form": form, "logged": logged, "person": person}, status=status)
        if logged:
            response["HX-Trigger"] = "timeline-changed"
        return response
    context = {"form": form, "logged": logged, **_history_context(person)}
    template = ("activities/partials/calls_panel.html" if request.htmx
                else "activities/person_calls.html")
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def person_calls(request, person_id: int):
    """The person's call panel: the form to log a call and the activity history.

    GET renders it (a fragment for htmx, a page otherwise); POST logs a call.
    """
    person = get_object_or_404(Person.workspace, pk=person_id)
    if request.method == "GET":
        return _panel(request, person, _call_form(person))
    form = _call_form(person, request.POST)
    if form.is_valid():
        try:
            call = call_log(logged_by=request.user, person=person, **form.call_fields())
        except ValidationError as error:
            form.service_errors(error)
        else:
            if not request.htmx:
                messages.success(request, _("Call logged."))
                return redirect("activities:person-calls", person_id=person.pk)
            return _panel(request, person, _call_form(person), logged=call)
    # htmx swaps only 2xx answers: the form with its errors comes back as 200 there.
    return _panel(request, person, form, status=200 if request.htmx else 400)


@require_GET
def person_call_history(request, person_id: int):
    """The person's activity history with delivery states; polled while any is in flight."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    return render(request, "activities/partials/activity_history.html",
                  _history_context(person))


# --------------------------------------------------------------------------- dialer settings


def _form_errors(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@admin_required
@require_POST
def call_settings_edit(request):
    form = CallSettingsForm(request.POST, instance=call_settings_get())
    if form.is_valid():
        call_settings_update(outcome_mode=form.cleaned_data["outcome_mode"])
        messages.success(request, _("Call settings saved."))
    else:
        _form_errors(request, form)
    return redirect("syncing:settings")


# The dialer's two admin-managed menus: (form, create, model, delete, added, removed), the
# last two the flash messages (a whole sentence each: languages agree "added" with the noun).
CALL_MENUS = {
    "outcome": (CallOutcomeForm, call_outcome_create, CallOutcome, call_outcome_delete,
                gettext_lazy("Outcome %(name)s added."),
                gettext_lazy("Outcome %(name)s removed.")),
    "reason": (CallReasonForm, call_reason_create, CallReason, call_reason_delete,
               gettext_lazy("Reason %(name)s added."), gettext_lazy("Reason %(name)s removed.")),
}


@admin_required
@require_POST
def call_menu_add(request, menu: str):
    form_class, create, _model, _delete, added, _removed = CALL_MENUS[menu]
    form = form_class(request.POST)
    if form.is_valid():
        try:
            entry = create(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, added % {"name": repr(entry.name)})
    _form_errors(request, form)
    return redirect("syncing:settings")


@admin_required
@require_POST
def call_menu_remove(request, menu: str, pk: int):
    _form, _create, model, delete, _added, removed = CALL_MENUS[menu]
    entry = get_object_or_404(model, pk=pk)
    delete(entry)
    messages.success(request, removed % {"name": repr(entry.name)})
    return redirect("syncing:settings")
