"""The person page's unsubscribe panel: record one (with a confirmation), remove one (admins).

With htmx the buttons swap the panel in place (and the banner at the top of the page); without
JavaScript the unsubscribe button opens a confirmation page and every form posts and redirects
back to the person page.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from people.models import Person
from people.selectors import person_get

from .models import Unsubscribe
from .selectors import person_unsubscribe_history
from .services import unsubscribe_record, unsubscribe_remove


def unsubscribe_panel_context(person: Person, user) -> dict:
    """What the panel needs; ``person`` must carry ``unsubscribed`` (``person_get``)."""
    history = person_unsubscribe_history(person)
    return {"person": person, "unsubscribes": history,
            "in_force": next((u for u in history if u.in_force), None),
            "can_remove": user.is_admin}


def _person(pk: int) -> Person:
    try:
        return person_get(pk)
    except Person.DoesNotExist:
        raise Http404(_("No such person in the workspace.")) from None


def _panel(request, person_pk: int, *, error: str = "", status: int = 200):
    person = _person(person_pk)
    context = unsubscribe_panel_context(person, request.user) | {"error": error}
    return render(request, "unsubscribes/partials/panel_swap.html", context, status=status)


@require_http_methods(["GET", "POST"])
def person_unsubscribe(request, person_id: int):
    """GET: the confirmation page (no JavaScript). POST: record a manual unsubscribe."""
    person = _person(person_id)
    if request.method == "GET":
        return render(request, "unsubscribes/confirm.html",
                      unsubscribe_panel_context(person, request.user))
    recorded = unsubscribe_record(person, Unsubscribe.Source.MANUAL, by=request.user)
    if request.htmx:
        return _panel(request, person.pk)
    messages.success(request, _("Unsubscribed.") if recorded.created
                     else _("An unsubscribe was already in force."))
    return redirect("people:detail", pk=person.pk)


@require_POST
def unsubscribe_remove_view(request, pk: int):
    """An admin takes an unsubscribe out of force, saying why."""
    if not request.user.is_admin:
        raise PermissionDenied(_("Only an admin can remove an unsubscribe."))
    unsubscribe = get_object_or_404(Unsubscribe, pk=pk)
    error = ""
    try:
        unsubscribe_remove(unsubscribe, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
    if request.htmx:
        # htmx swaps only 2xx answers: the panel says what went wrong.
        return _panel(request, unsubscribe.person_id, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Unsubscribe removed."))
    return redirect("people:detail", pk=unsubscribe.person_id)
