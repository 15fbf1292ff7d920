"""People pages: the list (search, filters, sorting, keyset pages, saved views, the columns a
user chose, bulk actions on ticked rows or everyone matching) and the person page with its
lazily loaded Marketo panel. People themselves are read-only here.

htmx requests for the list get only the results; every link and the form also work as plain
HTML, so the pages work without JavaScript.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from unsubscribes.views import unsubscribe_panel_context

from . import selectors, services
from .export import person_csv_lines
from .filters import (
    DEFAULT_COLUMNS,
    LIST_COLUMNS,
    OWNER_ALL,
    PersonSearchForm,
    columns_clean,
    sort_choices,
    sort_columns,
)
from .list_cache import people_list_cached
from .marketo_panel import person_marketo_activities
from .models import Person
from .selection import people_selection
from .selectors import InvalidCursor
from .timeline import KINDS, person_timeline


def _wants_fragment(request) -> bool:
    # A history restore (back button after htmx cleared its cache) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
def person_list(request):
    """The people list: a seller's own people by default, everyone's on request."""
    form = PersonSearchForm(request.GET, user=request.user)
    columns = selectors.list_columns_for(request.user, DEFAULT_COLUMNS)
    # The results depend on the URL, the user and their columns: the columns are in the key.
    results = people_list_cached(f"page:{'.'.join(columns) or '-'}", request,
                                 lambda: _results_html(request, form, columns))
    if _wants_fragment(request):
        response = HttpResponse(results)
    else:
        query = form.view_query()
        views = list(selectors.saved_views_for(request.user))
        response = render(request, "people/list.html", {
            "form": form, "chosen": form.chosen, "sort": form.selected_sort,
            "owner": form.selected_owner, "results": results, "sort_choices": sort_choices(),
            "views": views,
            "current_view": next((view for view in views if view.query == query), None),
            "columns": [(key, label, key in columns) for key, label in LIST_COLUMNS.items()]})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _results_html(request, form: PersonSearchForm, columns: tuple[str, ...]) -> str:
    """The results part of the list (count, bulk actions, table, pager or an empty state), as
    HTML."""
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
        "headers": sort_columns(sort, columns),
        "columns": columns,
        "filters": form.filter_pairs(),
        "owner": form.selected_owner,
        "owner_all": OWNER_ALL,
        "filtered": form.filtered,
        "invalid_link": invalid_link,
        # Only an empty page needs to know whether anybody is in the workspace at all.
        "workspace_empty": not page.people and not Person.workspace.exists(),
    }, request)


def _list_url(query: str) -> str:
    return f"{reverse('people:list')}?{query}" if query else reverse("people:list")


@require_POST
def saved_view_create(request):
    """Save the list as it is (filters and sort, sent along with the name) as a view."""
    form = PersonSearchForm(request.POST, user=request.user)
    query = form.view_query()
    try:
        view = services.saved_view_create(
            owner=request.user, name=request.POST.get("name", ""), query=query,
            shared=request.POST.get("shared") == "on")
    except ValidationError as error:
        for problems in error.message_dict.values():
            for problem in problems:
                messages.error(request, _("The view was not saved: %(problem)s")
                               % {"problem": problem})
        return redirect(_list_url(query))
    if view.shared:
        done = _("Saved the view “%(name)s” (shared with everyone).")
    else:
        done = _("Saved the view “%(name)s”.")
    messages.success(request, done % {"name": view.name})
    return redirect(_list_url(view.query))


@require_GET
def saved_view_open(request, pk: int):
    """Open a saved view: the list with its filters and sort (another seller's private view
    is not found)."""
    view = get_object_or_404(selectors.saved_views_for(request.user), pk=pk)
    return redirect(_list_url(view.query))


@require_POST
def saved_view_remove(request, pk: int):
    view = get_object_or_404(selectors.saved_views_for(request.user), pk=pk)
    services.saved_view_delete(view, by=request.user)
    messages.success(request, _("Deleted the view “%(name)s”.") % {"name": view.name})
    return redirect(_list_url(view.query))


@require_POST
def list_columns_choose(request):
    """Remember the columns this user wants on the list; back to the list as it was."""
    services.list_columns_set(request.user, columns_clean(request.POST.getlist("column")))
    form = PersonSearchForm(request.POST, user=request.user)
    return redirect(_list_url(form.view_query()))


@require_GET
def person_export(request):
    """The ticked people, or everyone matching the list's filters, as CSV (admins): the same
    file as ``GET /api/v1/people/export/``."""
    if not request.user.is_admin:
        raise PermissionDenied(_("Only admins export people."))
    selection = people_selection(request.GET, request.user)
    lines = person_csv_lines(selectors.person_export_rows(selection.criteria))
    response = StreamingHttpResponse((text.encode() for text in lines),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-store"
    return response


def _person(pk: int) -> Person:
    try:
        return selectors.person_get(pk)
    except Person.DoesNotExist:
        raise Http404(_("No such person in the workspace.")) from None


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
