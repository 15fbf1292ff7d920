"""Chinese (Simplified): the five shapes of salesactions/templatetags/when.py
(e.g. |day 2026年12月6日, |weekday
2026年12月6日 星期日). Django's own formats for the language fill in the rest."""

from django.conf.locale.zh_Hans import formats as _django

DATE_FORMAT = r"Y年n月j日"  # |day
DATETIME_FORMAT = r"Y年n月j日 H:i"  # |day_time
WEEKDAY_FORMAT = r"Y年n月j日 l"  # |weekday
TIME_FORMAT = r"H:i"  # |clock
PRECISE_DATETIME_FORMAT = r"Y年n月j日 H:i:s"  # |precise

# A date field is an <input type="date">, whose value is an ISO date whatever the language (the
# browser shows it in its own locale's order): ISO first, so a field's value is written as
# one; the language's own orders are still read.
DATE_INPUT_FORMATS = ["%Y-%m-%d", *(shape for shape in _django.DATE_INPUT_FORMATS
                                   if shape != "%Y-%m-%d")]
