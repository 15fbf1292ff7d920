"""One way to write dates and times, everywhere (a builtin of every template: no ``load``).

Every page shows a moment in one of these five shapes, in the viewer's time zone (the template
engine converts aware datetimes to the active zone, which ``accounts`` sets per user):

- ``|day``       6 Dec 2026                 a date
- ``|day_time``  6 Dec 2026, 14:05          a moment
- ``|weekday``   Sunday 6 December 2026     a heading over a day's entries
- ``|clock``     14:05                      the time, under such a heading
- ``|precise``   6 Dec 2026, 14:05:09       sync and delivery logs, where seconds matter

A new page uses these, never ``|date:"…"`` with a format of its own.
"""

from django import template
from django.template.defaultfilters import date as date_filter

register = template.Library()

FORMATS = {
    "day": "j M Y",
    "day_time": "j M Y, H:i",
    "weekday": "l j F Y",
    "clock": "H:i",
    "precise": "j M Y, H:i:s",
}


def _shape(name: str):
    def shape(value):
        return date_filter(value, FORMATS[name]) if value not in (None, "") else ""
    shape.__name__ = name
    return shape


for _name in FORMATS:
    register.filter(_name, _shape(_name), expects_localtime=True, is_safe=False)
