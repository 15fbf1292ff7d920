"""Portuguese (Brazil): the five shapes of salesactions/templatetags/when.py
(e.g. |day 6 dez 2026, |weekday
domingo, 6 de dezembro de 2026). Django's own formats for the language fill in the rest."""

from django.conf.locale.pt_BR import formats as _django

DATE_FORMAT = r"j b Y"  # |day
DATETIME_FORMAT = r"j b Y, H:i"  # |day_time
WEEKDAY_FORMAT = r"l, j \d\e F \d\e Y"  # |weekday
TIME_FORMAT = r"H:i"  # |clock
PRECISE_DATETIME_FORMAT = r"j b Y, H:i:s"  # |precise
# Month and day names in lower case ("dicembre", "domingo"): Django's catalog capitalises them.
DATE_NAMES_LOWERCASE = True

# A date field is an <input type="date">, whose value is an ISO date whatever the language (the
# browser shows it in its own locale's order): ISO first, so a field's value is written as
# one; the language's own orders are still read.
DATE_INPUT_FORMATS = ["%Y-%m-%d", *(shape for shape in _django.DATE_INPUT_FORMATS
                                   if shape != "%Y-%m-%d")]
