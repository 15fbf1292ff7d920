"""Template helpers for people pages. Marketo data is untrusted: only http(s) URLs become links."""

from urllib.parse import quote, urlsplit

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


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
def people_rows(people, list_url: str, owner: str):
    """The rows of the people table. Built in Python because this is the hot loop of the
    busiest page (50 rows, six cells), where the template engine costs several times more.
    Every value from the database goes through ``escape``, as autoescaping would do."""
    zone = timezone.get_current_timezone()
    owner_query = quote(owner)
    return mark_safe("\n".join(_person_row(person, escape(list_url), owner_query, zone)
                                for person in people))


def _person_row(person, list_url: str, owner_query: str, zone) -> str:
    name = escape(person.full_name or person.email or "(no name)")
    badge = (' <span class="status failing" title="An unsubscribe is in force">Unsubscribed'
             '</span>') if person.unsubscribed else ""
    company = (f'<a href="{list_url}?owner={owner_query}&amp;company='
               f'{quote(person.company)}">{escape(person.company)}</a>'
               if person.company else "")
    updated = ""
    if person.marketo_updated_at:
        moment = person.marketo_updated_at.astimezone(zone)
        updated = (f'<time datetime="{moment.isoformat()}">'
                   f'{moment.day} {moment:%b %Y}</time>')
    owner = escape(person.owner_name or person.owner_email)
    return (f'<tr><td><a href="{list_url}{person.pk}/">{name}</a>{badge}</td>'
            f"<td>{company}</td><td>{escape(person.title)}</td><td>{escape(person.email)}</td>"
            f"<td>{owner}</td><td>{updated}</td></tr>")
