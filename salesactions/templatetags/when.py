"""One way to write dates, times and durations, everywhere (a builtin of every template: no
``load``), in the page's language and the viewer's time zone.

Every page shows a moment in one of these five shapes (the template engine converts aware
datetimes to the active zone, which salesactions/i18n.py sets per user); each language says
how it writes them in ``salesactions/formats/<locale>/formats.py`` (English | French | Chinese):

- ``|day``       6 Dec 2026               6 déc. 2026               2026年12月6日          a date
- ``|day_time``  6 Dec 2026, 14:05        6 déc. 2026, 14:05        2026年12月6日 14:05    a moment
- ``|weekday``   Sunday 6 December 2026   dimanche 6 décembre 2026  2026年12月6日 星期日   a heading
- ``|clock``     14:05                    14:05                     14:05                  under it
- ``|precise``   6 Dec 2026, 14:05:09     6 déc. 2026, 14:05:09     2026年12月6日 14:05:09 logs

and a length of time as ``|duration`` (seconds or a timedelta: "4 min 30 s", "2 h 5 min").
A new page uses these, never ``|date:"…"`` with a format of its own.
"""

from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache

from django import template
from django.utils import formats
from django.utils.translation import get_language, gettext, pgettext

register = template.Library()

# Shape -> the format setting each language's formats.py gives it. The first three are
# Django's own settings (so {{ value|date }} agrees); the last two are the app's.
SHAPES = {
    "day": "DATE_FORMAT",
    "day_time": "DATETIME_FORMAT",
    "weekday": "WEEKDAY_FORMAT",
    "clock": "TIME_FORMAT",
    "precise": "PRECISE_DATETIME_FORMAT",
}
OWN_SETTINGS = {"WEEKDAY_FORMAT", "PRECISE_DATETIME_FORMAT"}
# A language whose formats.py sets this writes month and day names in lower case (Italian,
# Portuguese), where Django's catalogs give them capitalised ("Dicembre").
LOWERCASE_NAMES = "DATE_NAMES_LOWERCASE"


@lru_cache(maxsize=64)
def _own_format(setting: str, language: str):
    """An app-defined format for ``language`` (Django's get_format knows only its own names):
    the first of its format modules (ours, then Django's) that has it, else English's."""
    for module in formats.get_format_modules(language):
        if hasattr(module, setting):
            return getattr(module, setting)
    return _own_format(setting, "en") if language != "en" else None


def shape_format(setting: str) -> str:
    """The format string of one shape in the active language."""
    if setting in OWN_SETTINGS:
        return _own_format(setting, get_language() or "en")
    return setting


def shaped(value, name: str) -> str:
    """``value`` (a date or datetime, already in the zone wanted) in shape ``name`` ("day",
    "day_time", …) of the active language: for Python code that writes a date for a reader."""
    if value in (None, ""):
        return ""
    try:
        written = formats.date_format(value, shape_format(SHAPES[name]))
    except (AttributeError, TypeError, ValueError):
        return ""
    return written.lower() if _own_format(LOWERCASE_NAMES, get_language() or "en") else written


class _Formats(Mapping):
    """``FORMATS["day"]``: the format string of a shape in the active language (read at each
    use, as ``date_filter(value, FORMATS["day"])`` in template tags does)."""

    def __getitem__(self, name: str) -> str:
        return shape_format(SHAPES[name])

    def __iter__(self):
        return iter(SHAPES)

    def __len__(self):
        return len(SHAPES)


FORMATS = _Formats()


def _shape(name: str):
    def shape(value):
        return shaped(value, name)
    shape.__name__ = name
    return shape


for _name in SHAPES:
    register.filter(_name, _shape(_name), expects_localtime=True, is_safe=False)


@register.filter(is_safe=False)
def duration(value) -> str:
    """A length of time in its largest unit and the next one (left out when 0): "45 s",
    "4 min 30 s", "2 h", "3 d 4 h" (in the page's language). Seconds or a timedelta."""
    if value in (None, ""):
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        seconds = round(float(value))
    except (TypeError, ValueError):
        return ""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = [
        # Translators: abbreviated units of a length of time ("3 d 4 h", "4 min 30 s").
        (days, pgettext("duration unit", "%(n)s d")),
        (hours, pgettext("duration unit", "%(n)s h")),
        (minutes, pgettext("duration unit", "%(n)s min")),
        (seconds, pgettext("duration unit", "%(n)s s")),
    ]
    first = next((i for i, (amount, _unit) in enumerate(units) if amount), len(units) - 1)
    shown = [unit % {"n": formats.number_format(amount)}
             for amount, unit in units[first:first + 2] if amount or unit is units[first][1]]
    if len(shown) == 1:
        return sign + shown[0]
    # Translators: two units of a duration side by side ("4 min 30 s"); Chinese: no space.
    return sign + gettext("%(larger)s %(smaller)s") % {"larger": shown[0], "smaller": shown[1]}
