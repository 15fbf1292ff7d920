"""Task pages: the seller's queue, edit/delete/complete/snooze, and the person page's panel.

Actions answer htmx with the part of the page they change (the queue, or the person's panel)
and everything else with a redirect, so every form also works without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from people.models import Person
from people.selection import people_selection
from people.selectors import person_list
from salesactions.templatetags.when import register as when_filters

from .forms import BulkTaskForm, QueueFilterForm, SnoozeForm, TaskForm
from .models import ReminderTask
from .selectors import (
    SECTION_TITLES,
    person_open_tasks,
    seller_list,
    task_list_for_user,
    task_queue,
)
from .services import (
    BULK_TASK_LIMIT,
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_snooze,
    task_update,
    tasks_create_for_people,
)

# The shared "day" shape (``|day`` in templates), in the reader's language.
_day = when_filters.filters["day"]


def _queue_context(request, params: QueryDict) -> dict:
    user = request.user
    sellers = seller_list() if user.is_admin else []
    form = QueueFilterForm(params, user=user, sellers=sellers)
    chosen = form.cleaned_data if form.is_valid() else {}
    assignee = None
    if chosen.get("assignee"):
        assignee = next(seller for seller in sellers if str(seller.pk) == chosen["assignee"])
    expand = params.get("show", "")
    queue = task_queue(user, assignee=assignee, type=chosen.get("type", ""),
                       expand=expand if expand in SECTION_TITLES else "")
    query = params.copy()
    query.pop("show", None)
    return {"queue": queue, "filter_form": form, "query": query.urlencode(),
            "show_assignee": user.is_admin, "snooze_form": SnoozeForm()}


@require_GET
def queue(request):
    """The seller's task queue: Overdue, Today, Tomorrow, Upcoming and Completed."""
    context = _queue_context(request, request.GET)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "reminders/partials/queue.html", context)
    return render(request, "reminders/queue.html", context)


def _task(request, pk: int) -> ReminderTask:
    """A task the user may change; another seller's is a 404 (ids reveal nothing)."""
    return get_object_or_404(task_list_for_user(request.user).select_related("person"), pk=pk)


def _back(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("reminders:queue")


def _answer(request, task: ReminderTask, done: str):
    """After an action: the changed part of the page for htmx, else back where it came from."""
    if request.htmx:
        if request.POST.get("panel") == "person":
            return _person_panel(request, task.person, TaskForm(user=request.user,
                                                                sellers=_sellers(request)))
        return _queue_partial(request)
    messages.success(request, done)
    return redirect(_back(request))


def _queue_partial(request):
    """The queue after a boosted action on it. The browser stays on the queue's address:
    htmx 2 pushes a boosted form's action URL (``/tasks/N/snooze/``) whatever ``hx-push-url``
    says, and only this header stops it (issue 24, defect 8)."""
    response = render(request, "reminders/partials/queue.html",
                      _queue_context(request, QueryDict(request.POST.get("query", ""))))
    response["HX-Push-Url"] = "false"
    return response


def _sellers(request) -> list[User]:
    return seller_list() if request.user.is_admin else []


@require_POST
def complete(request, pk: int):
    task = task_complete(_task(request, pk), by=request.user)
    return _answer(request, task, _("Completed “%(name)s”.") % {"name": task.name})


@require_POST
def reopen(request, pk: int):
    task = task_reopen(_task(request, pk), by=request.user)
    return _answer(request, task, _("Reopened “%(name)s”.") % {"name": task.name})


@require_POST
def snooze(request, pk: int):
    task = _task(request, pk)
    form = SnoozeForm(request.POST)
    if form.is_valid():
        try:
            task = task_snooze(task, by=request.user, due_date=form.cleaned_data["due_date"])
        except ValidationError as error:
            form.add_error("due_date", error.message_dict.get("due_date") or error.messages)
    if not form.is_valid():
        messages.error(request, _("Not snoozed “%(name)s”: %(reason)s") % {
            "name": task.name, "reason": form.errors["due_date"][0]})
        if request.htmx:
            # htmx swaps only 2xx answers: the queue comes back with the reason on top.
            return _queue_partial(request)
        return redirect(_back(request))
    return _answer(request, task, _("Snoozed “%(name)s” to %(day)s.") % {
        "name": task.name, "day": _day(task.due_date)})


@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    """Edit a task's name, type, due date, priority, details (and assignee, for admins)."""
    task = _task(request, pk)
    sellers = _sellers(request)
    if request.method == "POST":
        form = TaskForm(request.POST, user=request.user, sellers=sellers)
        if form.is_valid():
            try:
                task_update(task, by=request.user, **form.task_fields())
            except ValidationError as error:
                form.service_errors(error)
            else:
                messages.success(request, _("Saved “%(name)s”.") % {"name": task.name})
                return redirect(_back(request))
    else:
        form = TaskForm(user=request.user, sellers=sellers, initial={
            "name": task.name, "type": task.type, "due_date": task.due_date,
            "priority": task.priority, "details": task.details,
            "assignee": task.assignee_id if task.assignee_id != request.user.pk else None})
    return render(request, "reminders/edit.html", {"task": task, "form": form,
                                                   "next": _back(request)},
                  status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
def delete(request, pk: int):
    """GET asks for confirmation (htmx asks in the browser and posts directly)."""
    task = _task(request, pk)
    if request.method == "GET":
        return render(request, "reminders/delete.html", {"task": task, "next": _back(request)})
    task_delete(task, by=request.user)
    return _answer(request, task, _("Deleted “%(name)s”.") % {"name": task.name})


def _person_panel(request, person: Person, form: TaskForm, *, status: int = 200,
                  added: ReminderTask | None = None):
    if request.htmx and (request.GET.get("part") or request.POST.get("part")) == "form":
        # The person page's "Add a task": the form only (the timeline lists the tasks).
        response = render(request, "reminders/partials/task_form_panel.html",
                          {"person": person, "form": form, "added": added}, status=status)
        if added:
            response["HX-Trigger"] = "timeline-changed"
        return response
    context = {"person": person, "tasks": person_open_tasks(request.user, person),
               "form": form}
    template = ("reminders/partials/person_tasks.html" if request.htmx
                else "reminders/person_tasks.html")
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def person_tasks(request, person_id: int):
    """The person page's tasks panel: their open tasks and the "Add task" form."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    sellers = _sellers(request)
    if request.method == "GET":
        return _person_panel(request, person, TaskForm(user=request.user, sellers=sellers))
    form = TaskForm(request.POST, user=request.user, sellers=sellers)
    if form.is_valid():
        try:
            task = task_create(created_by=request.user, person=person, **form.task_fields())
        except ValidationError as error:
            form.service_errors(error)
        else:
            if not request.htmx:
                messages.success(request, _("Added “%(name)s”.") % {"name": task.name})
                return redirect("reminders:person-tasks", person_id=person.pk)
            return _person_panel(request, person, TaskForm(user=request.user, sellers=sellers),
                                 added=task)
    return _person_panel(request, person, form, status=200 if request.htmx else 400)


@require_http_methods(["GET", "POST"])
def bulk_add(request):
    """A reminder task for each person ticked on the people list (or everyone matching its
    filters), assigned to whoever adds it: the form says how many, then adds them all."""
    params = request.POST if request.method == "POST" else request.GET
    selection = people_selection(params, request.user)
    # Bounded: more than the limit is refused, whatever "all matching" holds.
    ids = list(person_list(selection.criteria).order_by("pk")
               .values_list("pk", flat=True)[:BULK_TASK_LIMIT + 1])
    today = datetime.now(request.user.zone).date()
    form = BulkTaskForm(request.POST if request.method == "POST" else None, user=request.user,
                        initial={"due_date": today})
    if request.method == "POST" and form.is_valid():
        try:
            tasks = tasks_create_for_people(created_by=request.user, people_ids=ids,
                                            **form.task_fields())
        except ValidationError as error:
            form.service_errors(error)
        else:
            messages.success(request, ngettext(
                "Added “%(name)s” for %(count)s person.", "Added “%(name)s” for %(count)s people.",
                len(tasks)) % {"name": tasks[0].name, "count": len(tasks)})
            return redirect(f"{reverse('people:list')}?{urlencode(selection.filters)}")
    return render(request, "reminders/bulk_add.html", {
        "form": form, "selection": selection, "people_count": len(ids),
        "too_many": len(ids) > BULK_TASK_LIMIT, "limit": BULK_TASK_LIMIT,
        "list_query": urlencode(selection.filters)},
        status=400 if form.errors else 200)
