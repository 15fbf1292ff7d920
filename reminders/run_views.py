"""The task run: "Start tasks" on the Tasks page steps through the seller's tasks due today and
overdue, one person at a time. Each step shows the person, their timeline and the action the
task's type asks for (a call: the number to dial and the call form; an email: the composer,
filled from the campaign step that made the task; InMail and custom: just done), then
complete, skip or snooze moves on to the next.

Complete and snooze are the queue's own actions, posted with ``next`` set to the run. Skipped
tasks are remembered in the session for this run only; "Start tasks" starts a fresh run.
"""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from activities.forms import CallForm
from activities.selectors import call_outcome_list, call_reason_list, call_settings_get
from campaigns.models import MemberStep
from emails.forms import ComposeForm, merge_menu
from emails.selectors import template_list_for_user
from people.timeline import KINDS, person_timeline

from .models import ReminderTask
from .selectors import task_list_for_user, task_run_step, user_today

SKIPPED_KEY = "task-run-skipped"


def _skipped(request) -> set[int]:
    return {int(pk) for pk in request.session.get(SKIPPED_KEY, []) if str(pk).isdigit()}


def _snooze_presets(request) -> list[tuple[str, str]]:
    today = user_today(request.user)
    return [(_("Tomorrow"), (today + timedelta(days=1)).isoformat()),
            (_("In 3 days"), (today + timedelta(days=3)).isoformat()),
            (_("Next week"), (today + timedelta(days=7)).isoformat())]


def _email_draft(task: ReminderTask) -> dict:
    """The composer's starting text: the campaign step that made the task (as it ran), else
    the task's own name and details."""
    run = (MemberStep.objects.filter(task=task).select_related("step")
           .order_by("-ran_at").first())
    if run is not None:
        subject = run.subject or (run.step.subject if run.step else "")
        body = run.body or (run.step.body if run.step else "")
        if subject or body:
            return {"subject": subject, "body": body, "from_campaign": True}
    return {"subject": task.name, "body": task.details, "from_campaign": False}


@require_GET
def task_run(request):
    """The run's current step (``?start=1`` starts afresh, forgetting skipped tasks)."""
    if request.GET.get("start"):
        request.session[SKIPPED_KEY] = []
        return redirect("reminders:run")
    step = task_run_step(request.user, _skipped(request))
    context = {"step": step, "run_url": reverse("reminders:run")}
    task = step.task
    if task is not None:
        person = task.person
        context |= {
            "task": task, "person": person, "overdue": task.due_date < user_today(request.user),
            "presets": _snooze_presets(request), "kinds": KINDS,
            "timeline": person_timeline(person, request.user),
        }
        if task.type == ReminderTask.Type.CALL:
            context["form"] = CallForm(person=person, call_settings=call_settings_get(),
                                       outcomes=call_outcome_list(), reasons=call_reason_list())
        elif task.type == ReminderTask.Type.EMAIL:
            draft = _email_draft(task)
            context |= {"draft": draft, "compose_only": True, "merge_menu": merge_menu(),
                        "form": ComposeForm(
                            initial={"track": True, "subject": draft["subject"],
                                     "body": draft["body"]},
                            templates=template_list_for_user(request.user),
                            zone=request.user.zone)}
    return render(request, "reminders/run.html", context)


@require_POST
def task_run_skip(request, pk: int):
    """Leave this task for now (it stays due) and go on to the next."""
    task = get_object_or_404(task_list_for_user(request.user), pk=pk)
    request.session[SKIPPED_KEY] = sorted(_skipped(request) | {task.pk})
    return redirect("reminders:run")
