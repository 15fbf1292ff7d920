"""The people sync card of the settings page (admins only)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import admin_required

from .initial import people_initial_sync_start
from .selectors import people_sync_overview


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
    messages.success(request, _("Initial people sync started (run %(run)s).") % {"run": run.pk})
    return redirect("syncing:settings")
