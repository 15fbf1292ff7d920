"""Template helpers for people pages. Marketo data is untrusted: only http(s) URLs become links."""

from urllib.parse import urlsplit

from django import template

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
