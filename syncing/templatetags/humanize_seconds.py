from django import template
from django.utils.translation import pgettext, pgettext_lazy

from syncing.health.registry import unit_text

register = template.Library()


@register.filter
def seconds_short(seconds: float) -> str:
    """12 s, 4 min, 3 h, 2 d: how far behind a sync is, at a glance."""
    seconds = max(0, int(seconds))
    if seconds >= 86400:
        # Translators: a short duration in days, e.g. "2 d".
        return pgettext("short duration", "%(days)s d") % {"days": seconds // 86400}
    if seconds >= 3600:
        # Translators: a short duration in hours, e.g. "3 h".
        return pgettext("short duration", "%(hours)s h") % {"hours": seconds // 3600}
    if seconds >= 60:
        # Translators: a short duration in minutes, e.g. "4 min".
        return pgettext("short duration", "%(minutes)s min") % {"minutes": seconds // 60}
    # Translators: a short duration in seconds, e.g. "12 s".
    return pgettext("short duration", "%(seconds)s s") % {"seconds": seconds}


# Sync health's status values (the API's enum) as a reader sees them.
_HEALTH_STATUS_LABELS = {
    "ok": pgettext_lazy("sync health status", "ok"),
    "lagging": pgettext_lazy("sync health status", "lagging"),
    "failing": pgettext_lazy("sync health status", "failing"),
    "paused": pgettext_lazy("sync health status", "paused"),
}

_DIRECTION_LABELS = {
    # Translators: a sync stream's direction: into the app.
    "in": pgettext_lazy("sync direction", "in"),
    # Translators: a sync stream's direction: out of the app (deliveries).
    "out": pgettext_lazy("sync direction", "out"),
}


@register.filter
def health_status_label(status: str) -> str:
    return str(_HEALTH_STATUS_LABELS.get(status, status))


@register.filter
def health_direction_label(direction: str) -> str:
    return str(_DIRECTION_LABELS.get(direction, direction))


@register.filter
def unit_count(count, unit: str) -> str:
    """``{{ n|unit_count:stream.unit }}``: "3 leads", in the reader's language."""
    try:
        count = int(count)
    except (TypeError, ValueError):
        return ""
    return unit_text(count, unit)
