"""The settings page (admins only): connections to Marketo and Salesforce, and the sync switches;
its people sync and deliveries cards come from ``syncing.mirror.views`` and
``syncing.outbox.views``."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import admin_required
from activities.forms import CallOutcomeForm, CallReasonForm, CallSettingsForm
from activities.selectors import call_outcome_list, call_reason_list, call_settings_get
from syncing.mirror.selectors import people_sync_overview
from syncing.outbox.diagnostics import delivery_health
from syncing.outbox.marketo_activities import marketo_activity_types_register_soon
from syncing.reminders.selectors import reminder_sync_overview
from syncing.unsubscribes.selectors import unsubscribe_sync_overview

from .forms import MarketoConnectionForm, SalesforceConnectionForm, SyncSettingsForm
from .selectors import marketo_connection_get, salesforce_connection_get, sync_settings_get
from .services import connection_save, connection_test_record, sync_settings_update

CONNECTIONS = {
    "marketo": (marketo_connection_get, MarketoConnectionForm, "Marketo"),
    "salesforce": (salesforce_connection_get, SalesforceConnectionForm, "Salesforce"),
}


def _settings_context(**overrides) -> dict:
    context = {
        "marketo": marketo_connection_get(),
        "salesforce": salesforce_connection_get(),
    }
    context["marketo_form"] = MarketoConnectionForm(instance=context["marketo"],
                                                    prefix="marketo")
    context["salesforce_form"] = SalesforceConnectionForm(instance=context["salesforce"],
                                                          prefix="salesforce")
    context["sync_form"] = SyncSettingsForm(instance=sync_settings_get(), prefix="sync")
    context["people_sync"] = people_sync_overview()
    context["unsubscribe_sync"] = unsubscribe_sync_overview()
    context["delivery_health"] = delivery_health()
    context["reminder_sync"] = reminder_sync_overview()
    context["call_settings_form"] = CallSettingsForm(instance=call_settings_get())
    context["call_outcomes"] = call_outcome_list()
    context["call_reasons"] = call_reason_list()
    context["call_outcome_form"] = CallOutcomeForm()
    context["call_reason_form"] = CallReasonForm()
    context.update(overrides)
    return context


@admin_required
@require_GET
def settings_page(request):
    return render(request, "syncing/settings.html", _settings_context())


@admin_required
@require_POST
def connection_update(request, system: str):
    """Save a connection, then check it at once so the card shows whether it works."""
    get_connection, form_class, label = CONNECTIONS[system]
    form = form_class(request.POST, instance=get_connection(), prefix=system)
    if not form.is_valid():
        return render(request, "syncing/settings.html",
                      _settings_context(**{f"{system}_form": form}), status=400)
    result = connection_save(form.instance)
    if result.ok and system == "marketo":
        # SPEC section 4: the custom activity types are registered on connect.
        marketo_activity_types_register_soon()
    level = messages.SUCCESS if result.ok else messages.WARNING
    messages.add_message(request, level, _("%(system)s connection saved. %(result)s") % {
        "system": label, "result": result.message})
    return redirect("syncing:settings")


@admin_required
@require_POST
def connection_test(request, system: str):
    """Check the values in the form (saved or not) without saving them; htmx swaps the result
    in, and the card's status too when the values checked are the saved ones."""
    get_connection, form_class, label = CONNECTIONS[system]
    form = form_class(request.POST, instance=get_connection(), prefix=system)
    saved = get_connection()
    context = {"label": label, "system": system, "connection": saved, "recorded": False}
    if form.is_valid():
        result, context["recorded"] = connection_test_record(form.instance, saved)
        context |= {"ok": result.ok, "message": result.message}
    else:
        errors = "; ".join(f"{form.fields[name].label}: {' '.join(errs)}"
                           for name, errs in form.errors.items())
        context |= {"ok": False, "message": errors}
    template = ("syncing/partials/connection_result.html" if request.htmx
                else "syncing/connection_result_page.html")
    return render(request, template, context)


@admin_required
@require_POST
def sync_settings_edit(request):
    form = SyncSettingsForm(request.POST, instance=sync_settings_get(), prefix="sync")
    if not form.is_valid():
        return render(request, "syncing/settings.html", _settings_context(sync_form=form),
                      status=400)
    sync_settings_update(sync_settings_get(), **form.cleaned_data)
    messages.success(request, _("Sync settings saved."))
    return redirect("syncing:settings")
