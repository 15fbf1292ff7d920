"""Settings pages (admins only): connections to Marketo and Salesforce, and the sync switches."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import admin_required
from activities.forms import CallOutcomeForm, CallReasonForm, CallSettingsForm
from activities.selectors import call_outcome_list, call_reason_list, call_settings_get

from .diagnostics import FAILED_PAGE, delivery_health, failed_deliveries, failed_error_kinds
from .forms import MarketoConnectionForm, SalesforceConnectionForm, SyncSettingsForm
from .marketo_activities import marketo_activity_types_register_soon
from .models import Delivery
from .outbox import deliveries_flush_soon, deliveries_retry, delivery_resume
from .people_sync import people_initial_sync_start
from .selectors import (
    marketo_connection_get,
    people_sync_overview,
    salesforce_connection_get,
    sync_settings_get,
)
from .services import connection_check, connection_save, sync_settings_update

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
    context["delivery_health"] = delivery_health()
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
    messages.add_message(request, level, f"{label} connection saved. {result.message}")
    return redirect("syncing:settings")


@admin_required
@require_POST
def connection_test(request, system: str):
    """Check the values in the form (saved or not) without saving them; htmx swaps the result in."""
    get_connection, form_class, label = CONNECTIONS[system]
    form = form_class(request.POST, instance=get_connection(), prefix=system)
    if form.is_valid():
        result = connection_check(form.instance)
        context = {"ok": result.ok, "message": result.message}
    else:
        errors = "; ".join(f"{form.fields[name].label}: {' '.join(errs)}"
                           for name, errs in form.errors.items())
        context = {"ok": False, "message": errors}
    context["label"] = label
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
    messages.success(request, "Sync settings saved.")
    return redirect("syncing:settings")


def _people_sync_card(request):
    return render(request, "syncing/partials/people_sync.html",
                  {"people_sync": people_sync_overview()})


@admin_required
@require_GET
def people_sync_status(request):
    """The people sync card; htmx polls it while a run is going."""
    return _people_sync_card(request)


@admin_required
@require_POST
def people_sync_start(request):
    """"Start sync": the initial people sync, or resume the unfinished one, in a worker."""
    run = people_initial_sync_start(request.user)
    if request.htmx:
        return _people_sync_card(request)
    messages.success(request, f"Initial people sync started (run {run.pk}).")
    return redirect("syncing:settings")


@admin_required
@require_GET
def diagnostics(request):
    """Outbox health and failed deliveries to Salesforce and Marketo, to inspect and retry."""
    target = request.GET.get("target", "")
    code = request.GET.get("code", "")
    failed = failed_deliveries(target=target, code=code)
    return render(request, "syncing/diagnostics.html", {
        "health": delivery_health(),
        "kinds": failed_error_kinds(),
        "failed": failed[:FAILED_PAGE],
        "failed_total": failed.count(),
        "target": target,
        "code": code,
    })


@admin_required
@require_POST
def delivery_retry(request, pk: int):
    """Retry one failed delivery now."""
    delivery = get_object_or_404(Delivery, pk=pk)
    if deliveries_retry(Delivery.objects.filter(pk=delivery.pk)):
        messages.success(request, f"Delivery {delivery.pk} to {delivery.get_target_display()} "
                                  "queued again.")
    return redirect("diagnostics")


@admin_required
@require_POST
def deliveries_retry_kind(request):
    """Retry every failed delivery of one target with one error code."""
    target = request.POST.get("target", "")
    if target not in Delivery.Target.values:
        raise Http404("unknown target")
    code = request.POST.get("code", "")
    count = deliveries_retry(Delivery.objects.filter(target=target, last_error_code=code))
    label = Delivery.Target(target).label
    messages.success(request, f"{count} failed {label} deliveries ({code or 'no code'}) "
                              "queued again.")
    return redirect("diagnostics")


@admin_required
@require_POST
def deliveries_resume(request, target: str):
    """End a pause now; the next batch checks the API limit again."""
    if target not in Delivery.Target.values:
        raise Http404("unknown target")
    delivery_resume(target)
    deliveries_flush_soon([target], countdown=0)
    messages.success(request, f"Deliveries to {Delivery.Target(target).label} resumed.")
    return redirect("syncing:settings")
