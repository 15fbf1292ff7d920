"""The Sync health page (admins only): every stream's health, with its 24-hour chart."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import admin_required

from .charts import stream_chart
from .selectors import sync_health


@admin_required
@require_GET
def sync_health_page(request):
    health = sync_health()
    rows = [(stream, stream_chart(stream)) for stream in health.streams]
    template = ("syncing/partials/health_streams.html" if request.htmx
                else "syncing/health.html")
    return render(request, template, {"health": health, "rows": rows})
