"""The queue's task rows, written in Python: a queue page lists up to a hundred rows with three
forms each, and the template engine (then ``format_html``) took most of the page's time doing
it (bench/reminder_queue.py). The markup is what a template would write; every value from the
database goes through ``html.escape`` (the same five characters Django escapes)."""

from html import escape

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.safestring import mark_safe

from salesactions.templatetags.when import FORMATS

register = template.Library()

_CHECK = {
    "open": ("complete", "outline", "Complete", "✓"),
    "complete": ("reopen", "secondary", "Reopen", "↺"),
}
_HIGH = ' <span class="status failing">High</span>'


def _row(task, base: str, csrf: str, show_assignee: bool) -> str:
    action, style, verb, symbol = _CHECK[task.status]
    person = task.person
    name = escape(task.name)
    url = f"{base}{task.pk}/"
    if task.status == "open":
        when = (f'due <time datetime="{task.due_date.isoformat()}">'
                f'{date_filter(task.due_date, FORMATS["day"])}</time>')
        snooze = (f'<form method="post" action="{url}snooze/" class="task-snooze" '
                  f'aria-label="Snooze {name}">{csrf}<input type="date" name="due_date" '
                  'aria-label="Snooze to" required><button type="submit" '
                  'class="secondary outline">Snooze</button></form>')
    else:
        completed = timezone.localtime(task.completed_at) if task.completed_at else None
        when, snooze = f"done {date_filter(completed, FORMATS['day'])}", ""
    company = f", {escape(person.company)}" if person.company else ""
    assignee = f" · {escape(str(task.assignee))}" if show_assignee else ""
    high = task.priority == "high"
    return (
        f'<li class="task{" high" if high else ""}" id="task-{task.pk}">'
        f'<form method="post" action="{url}{action}/" class="task-check">{csrf}'
        f'<button type="submit" class="{style}" title="{verb}" aria-label="{verb} {name}">'
        f'{symbol}</button></form>'
        f'<div class="task-main"><strong class="task-name">{name}</strong> '
        f'<span class="task-type">{escape(task.get_type_display())}</span>{_HIGH if high else ""}'
        f'<br><small><a hx-boost="false" href="/people/{task.person_id}/">'
        f'{escape(str(person))}</a>{company} · {when}{assignee}</small></div>'
        f'{snooze}'
        f'<div class="task-links"><a hx-boost="false" href="{url}edit/">Edit</a>'
        f'<form method="post" action="{url}delete/" hx-confirm="Delete the task “{name}”?">'
        f'{csrf}<button type="submit" class="link-button">Delete</button></form></div></li>')


@register.simple_tag(takes_context=True)
def task_rows(context, tasks, base: str, show_assignee: bool = False) -> str:
    """The ``<li>`` rows of a queue section (``base``: the queue's URL, the actions' prefix)."""
    csrf = ('<input type="hidden" name="csrfmiddlewaretoken" '
            f'value="{escape(str(context.get("csrf_token", "")))}">')
    return mark_safe("\n".join(_row(task, base, csrf, show_assignee) for task in tasks))
