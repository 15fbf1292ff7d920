"""People pages: the list (search, filters, sorting, keyset pages) and the person page with its
lazily loaded Marketo panel. Read-only: there is nothing to create, edit or delete here.

htmx requests for the list get only the results; every link and the form also work as plain
HTML, so the pages work without JavaScript.
"""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from unsubscribes.views import unsubscribe_panel_context

from . import selectors
from .filters import OWNER_ALL, PersonSearchForm, sort_columns
from .list_cache import people_list_cached
from .marketo_panel import person_marketo_activities
from .models import Person
from .selectors import InvalidCursor
from .timeline import KINDS, person_timeline


def _wants_fragment(request) -> bool:
    # A history restore (back button after htmx cleared its cache) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
def person_list(request):
    """The people list: a seller's own people by default, everyone's on request."""
    form = PersonSearchForm(request.GET, user=request.user)
    results = people_list_cached("page", request, lambda: _results_html(request, form))
    if _wants_fragment(request):
        response = HttpResponse(results)
    else:
        response = render(request, "people/list.html", {
            "form": form, "chosen": form.chosen, "sort": form.selected_sort,
            "owner": form.selected_owner, "results": results})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _results_html(request, form: PersonSearchForm) -> str:
    """The results part of the list (count, table, pager or an empty state), as HTML."""
    sort = form.selected_sort
    criteria = form.criteria()
    invalid_link = False
    try:
        page = selectors.person_page(criteria, sort=sort, cursor=request.GET.get("cursor"))
    except InvalidCursor:
        # An old or hand-edited link: show the first page and say so.
        invalid_link = True
        page = selectors.person_page(criteria, sort=sort)
    return render_to_string("people/partials/results.html", {
        "page": page,
        "count": selectors.person_count(criteria, page) if page.people else None,
        "columns": sort_columns(sort),
        "owner": form.selected_owner,
        "owner_all": OWNER_ALL,
        "filtered": form.filtered,
        "invalid_link": invalid_link,
        # Only an empty page needs to know whether anybody is in the workspace at all.
        "workspace_empty": not page.people and not Person.workspace.exists(),
    }, request)


def _person(pk: int) -> Person:
    try:
        return selectors.person_get(pk)
    except Person.DoesNotExist:
        raise Http404("No such person in the workspace.") from None


@require_GET
def person_detail(request, pk: int):
    """One person: the Marketo fields, the owner, Salesforce links, campaigns and
    unsubscribes, the actions (log a call, add a task, write an email, each loaded when
    opened) and one activity timeline (``?kind=`` filters it; Marketo's part loads live)."""
    person = _person(pk)
    return render(request, "people/detail.html", {
        "person": person,
        "salesforce_records": selectors.person_salesforce_records(person),
        "own": person.owner_email and person.owner_email == request.user.email.lower(),
        "timeline": person_timeline(person, request.user, kind=request.GET.get("kind", "")),
        "kinds": KINDS, "timeline_pushes_url": True,
        **unsubscribe_panel_context(person, request.user),
    })


@require_GET
def person_timeline_panel(request, pk: int):
    """The timeline alone (htmx: a filter link, a refresh after an action, polling while
    something is on its way). ``?part=entries`` leaves out the filter and Marketo's part."""
    person = get_object_or_404(Person.workspace, pk=pk)
    timeline = person_timeline(person, request.user, kind=request.GET.get("kind", ""))
    template = ("people/partials/timeline_entries.html"
                if request.GET.get("part") == "entries" else "people/partials/timeline.html")
    # The filter keeps the person page's address in step; elsewhere (the task run) it
    # leaves the address alone.
    page_url = reverse("people:detail", args=[person.pk])
    pushes = not request.htmx or (request.htmx.current_url_abs_path or "").startswith(page_url)
    response = render(request, template, {"person": person, "timeline": timeline,
                                          "kinds": KINDS, "timeline_pushes_url": pushes})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def person_marketo_panel(request, pk: int):
    """The Marketo activity panel, read live. Always answers 200: when Marketo is slow or down
    the panel itself says so, and the rest of the person page is unaffected."""
    person = get_object_or_404(Person.workspace, pk=pk)
    context = {"person": person, "panel": person_marketo_activities(person)}
    template = ("people/partials/marketo_panel.html" if _wants_fragment(request)
                else "people/marketo_activity.html")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
