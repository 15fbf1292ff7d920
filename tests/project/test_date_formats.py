"""One way to write dates and times (issue 24): five shapes in one place
(``salesactions/templatetags/when.py``), in the viewer's time zone, and no template writes a
format of its own."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.template import engines
from django.utils import timezone

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Machine-readable ones are not for people: ISO 8601 in <time datetime="…"> and date inputs.
OWN_FORMAT = re.compile(r"\|\s*(date|time)\s*:\s*(?!['\"](c|Y-m-d)['\"])")


def render(text: str, **context) -> str:
    return engines["django"].from_string(text).render(context)


def test_no_template_writes_a_date_format_of_its_own():
    found = [f"{path.relative_to(TEMPLATES)}: {line.strip()}"
             for path in TEMPLATES.rglob("*.html")
             for line in path.read_text().splitlines() if OWN_FORMAT.search(line)]
    assert not found, "Use |day, |day_time, |weekday, |clock or |precise:\n" + "\n".join(found)


@pytest.mark.parametrize(("shape", "written"), [
    ("day", "6 Dec 2026"), ("day_time", "6 Dec 2026, 09:05"),
    ("weekday", "Sunday 6 December 2026"), ("clock", "09:05"),
    ("precise", "6 Dec 2026, 09:05:07"),
])
def test_each_shape_in_the_viewers_time_zone(shape, written):
    moment = datetime(2026, 12, 6, 14, 5, 7, tzinfo=UTC)  # 09:05:07 in New York
    with timezone.override("America/New_York"):
        assert render("{{ moment|" + shape + " }}", moment=moment) == written


def test_dates_and_nothing_render_too():
    assert render("{{ d|day }}", d=date(2026, 3, 1)) == "1 Mar 2026"
    assert render("[{{ missing|day_time }}]") == "[]"
