"""English: the five shapes of salesactions/templatetags/when.py
(e.g. |day 6 Dec 2026, |weekday
Sunday 6 December 2026). Django's own formats for the language fill in the rest."""

DATE_FORMAT = r"j M Y"  # |day
DATETIME_FORMAT = r"j M Y, H:i"  # |day_time
WEEKDAY_FORMAT = r"l j F Y"  # |weekday
TIME_FORMAT = r"H:i"  # |clock
PRECISE_DATETIME_FORMAT = r"j M Y, H:i:s"  # |precise
DATE_NAMES_LOWERCASE = False
