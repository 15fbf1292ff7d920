"""The queue's task rows, written in Python: a queue page lists up to a hundred rows with three
forms each, and the template engine (then ``format_html``) took most of the page's time doing
it (bench/reminder_queue.py). The markup is what a template would write; every value from the
database goes through ``html.escape`` (the same five characters Django escapes)."""

from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from salesactions.templatetags.when import register as when_filters

register = template.Library()

# The shared "day" shape (``|day`` in templates), in the reader's language.
_day = when_filters.filters["day"]

_CHECK = {
    "open": ("complete", "outline", "✓"),
    "complete": ("reopen", "secondary", "↺"),
}


def _words() -> dict[str, str]:
    """The rows' words in the active language, escaped, looked up once per list (not per row).
    Those with ``%(…)s`` take escaped values."""
    words = {
        "open": pgettext("verb", "Complete"),
        "complete": _("Reopen"),
        "open_name": _("Complete %(name)s"),
        "complete_name": _("Reopen %(name)s"),
        "high": pgettext("priority", "High"),
        "due": _("due %(day)s"),
        "done": _("done %(day)s"),
        "snooze_name": _("Snooze %(name)s"),
        "snooze_to": _("Snooze to"),
        "snooze": pgettext("verb", "Snooze"),
        "edit": _("Edit"),
        "confirm": _("Delete the task “%(name)s”?"),
        "delete": _("Delete"),
    }
    return {key: escape(text, quote=True) for key, text in words.items()}


def _row(task, base: str, csrf: str, show_assignee: bool, words: dict[str, str]) -> str:
    action, style, symbol = _CHECK[task.status]
    verb = words[task.status]
    person = task.person
    name = escape(task.name)
    url = f"{base}{task.pk}/"
    if task.status == "open":
        day = (f'<time datetime="{task.due_date.isoformat()}">'
               f'{_day(task.due_date)}</time>')
        when = words["due"] % {"day": day}
        snooze = (f'<form method="post" action="{url}snooze/" class="task-snooze" '
                  f'aria-label="{words["snooze_name"] % {"name": name}}">{csrf}'
                  f'<input type="date" name="due_date" aria-label="{words["snooze_to"]}" required>'
                  f'<button type="submit" class="secondary outline">{words["snooze"]}</button>'
                  '</form>')
    else:
        completed = timezone.localtime(task.completed_at) if task.completed_at else None
        when = words["done"] % {"day": escape(_day(completed))}
        snooze = ""
    company = f", {escape(person.company)}" if person.company else ""
    assignee = f" · {escape(str(task.assignee))}" if show_assignee else ""
    high = (f' <span class="status failing">{words["high"]}</span>'
            if task.priority == "high" else "")
    return (
        f'<li class="task{" high" if high else ""}" id="task-{task.pk}">'
        f'<form method="post" action="{url}{action}/" class="task-check">{csrf}'
        f'<button type="submit" class="{style}" title="{verb}" '
        f'aria-label="{words[task.status + "_name"] % {"name": name}}">'
        f'{symbol}</button></form>'
        f'<div class="task-main"><strong class="task-name">{name}</strong> '
        f'<span class="task-type">{escape(str(task.get_type_display()))}</span>{high}'
        f'<br><small><a hx-boost="false" href="/people/{task.person_id}/">'
        f'{escape(str(person))}</a>{company} · {when}{assignee}</small></div>'
        f'{snooze}'
        f'<div class="task-links"><a hx-boost="false" href="{url}edit/">{words["edit"]}</a>'
        f'<form method="post" action="{url}delete/" '
        f'hx-confirm="{words["confirm"] % {"name": name}}">'
        f'{csrf}<button type="submit" class="link-button">{words["delete"]}</button></form></div>'
        f'</li>')


@register.simple_tag(takes_context=True)
def task_rows(context, tasks, base: str, show_assignee: bool = False) -> str:
    """The ``<li>`` rows of a queue section (``base``: the queue's URL, the actions' prefix)."""
    csrf = ('<input type="hidden" name="csrfmiddlewaretoken" '
            f'value="{escape(str(context.get("csrf_token", "")))}">')
    words = _words()
    return mark_safe("\n".join(_row(task, base, csrf, show_assignee, words) for task in tasks))
