"""Diagnostics (admins only): outbox health and failed deliveries, to inspect and retry; and
resuming a paused target from the settings page."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import admin_required
from syncing.models import Delivery

from .diagnostics import FAILED_PAGE, delivery_health, failed_deliveries, failed_error_kinds
from .queue import deliveries_flush_soon, deliveries_retry
from .streams import delivery_resume


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
        messages.success(request, _("Delivery %(number)s to %(system)s queued again.") % {
            "number": delivery.pk, "system": delivery.get_target_display()})
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
    messages.success(request, ngettext(
        "%(count)s failed %(system)s delivery (%(code)s) queued again.",
        "%(count)s failed %(system)s deliveries (%(code)s) queued again.", count) % {
        "count": count, "system": label, "code": code or _("no code")})
    return redirect("diagnostics")


@admin_required
@require_POST
def deliveries_resume(request, target: str):
    """End a pause now; the next batch checks the API limit again."""
    if target not in Delivery.Target.values:
        raise Http404("unknown target")
    delivery_resume(target)
    deliveries_flush_soon([target], countdown=0)
    messages.success(request, _("Deliveries to %(system)s resumed.") % {
        "system": Delivery.Target(target).label})
    return redirect("syncing:settings")
