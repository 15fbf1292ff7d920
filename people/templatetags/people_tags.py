"""Template helpers for people pages. Marketo data is untrusted: only http(s) URLs become links."""

from typing import NamedTuple
from urllib.parse import quote, urlsplit

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from people.filters import DEFAULT_COLUMNS, LIST_COLUMNS
from salesactions.templatetags.when import register as when_filters

register = template.Library()

# The shared "day" shape (``|day`` in templates), in the reader's language.
_day = when_filters.filters["day"]


@register.filter
def http_url(value) -> str:
    """``value`` if it is an absolute http(s) URL, else "" (so ``javascript:`` never becomes a
    link)."""
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


@register.simple_tag
def people_rows(people, list_url: str, owner: str, columns=DEFAULT_COLUMNS):
    """The rows of the people table: a tick box, the name, then ``columns``. Built in Python
    because this is the hot loop of the busiest page (50 rows, several cells), where the
    template engine costs several times more. Every value from the database goes through
    ``escape``, as autoescaping would do."""
    zone = timezone.get_current_timezone()
    owner_query = quote(owner)
    cells = [(key, escape(LIST_COLUMNS[key]), _CELLS[key]) for key in columns]
    # Translated once per table, not per row.
    words = _RowWords(no_name=_("(no name)"), badge=(
        ' <span class="status failing" title="{}">{}</span>'.format(
            escape(_("An unsubscribe is in force")), escape(_("Unsubscribed")))),
        select=escape(_("Select %(name)s")))
    return mark_safe("\n".join(_person_row(person, escape(list_url), owner_query, zone, cells,
                                            words) for person in people))


class _RowWords(NamedTuple):
    no_name: str
    badge: str      # HTML
    select: str     # "Select %(name)s", escaped (the name is escaped when put in)


def _company(person, list_url: str, owner_query: str, zone) -> str:
    if not person.company:
        return ""
    return (f'<a href="{list_url}?owner={owner_query}&amp;company={quote(person.company)}">'
            f"{escape(person.company)}</a>")


def _updated(person, list_url: str, owner_query: str, zone) -> str:
    if not person.marketo_updated_at:
        return ""
    moment = person.marketo_updated_at.astimezone(zone)
    return f'<time datetime="{moment.isoformat()}">{_day(moment)}</time>'


def _text(name: str):
    def cell(person, list_url: str, owner_query: str, zone) -> str:
        return escape(getattr(person, name))
    return cell


_CELLS = {
    "company": _company,
    "title": _text("title"),
    "email": _text("email"),
    "phone": _text("phone"),
    "source": _text("source"),
    "owner": lambda person, *_: escape(person.owner_name or person.owner_email),
    "updated": _updated,
}


def _person_row(person, list_url: str, owner_query: str, zone, cells, words: _RowWords) -> str:
    name = escape(person.full_name or person.email or words.no_name)
    badge = words.badge if person.unsubscribed else ""
    # data-label names a cell where the table shows as cards (a phone).
    rest = "".join(f'<td data-label="{label}" class="col-{key}">'
                   f"{cell(person, list_url, owner_query, zone)}</td>"
                   for key, label, cell in cells)
    return (f'<tr><td class="pick"><input type="checkbox" name="person" value="{person.pk}" '
            f'aria-label="{words.select % {"name": name}}"></td>'
            f'<td class="col-name"><a href="{list_url}{person.pk}/">{name}</a>{badge}</td>'
            f"{rest}</tr>")
