"""The translation catalogs (issue 25) are complete and current, as ``make messages`` leaves
them: run on a copy of the tree, ``makemessages`` changes nothing (no string tagged but not in
the catalogs, none stale), ``compilemessages`` is clean and gives the committed ``.mo`` files,
every language has 0 untranslated and 0 fuzzy entries, and placeholders agree (``msgfmt
--check-format``). The per-language counts are printed (``-s``) for the release note."""

import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = runpy.run_path(str(ROOT / "scripts" / "messages.py"))
LOCALES = MESSAGES["LOCALES"]
CREATED = re.compile(r'^"POT-Creation-Date: .*\\n"$', re.MULTILINE)


def _gettext_here():
    missing = [tool for tool in ("msgfmt", "msgattrib", "msgcat", "xgettext", "msgmerge")
               if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"GNU gettext is missing ({', '.join(missing)}): run `make i18n-tools` "
                    f"(or apt-get install gettext)", pytrace=False)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """The tree copied and put through makemessages + compilemessages, as make messages
    does (without merging parts: the committed catalogs are what is checked)."""
    _gettext_here()
    copy = tmp_path_factory.mktemp("catalogs") / "tree"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "messages.py"),
                    "--check", str(copy)], check=True, capture_output=True, text=True)
    return copy


def _catalog(root: Path, locale: str) -> Path:
    return root / "locale" / locale / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("locale", LOCALES)
def test_makemessages_changes_nothing(rebuilt, locale):
    committed = CREATED.sub("", _catalog(ROOT, locale).read_text())
    made = CREATED.sub("", _catalog(rebuilt, locale).read_text())
    if committed != made:
        import difflib
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(True), made.splitlines(True), "committed", "makemessages"))[:80])
        pytest.fail(f"locale/{locale}: makemessages changes the catalog (run `make messages`, "
                    f"translate, commit):\n{diff}", pytrace=False)


@pytest.mark.parametrize("locale", LOCALES)
def test_committed_mo_is_what_compilemessages_gives(rebuilt, locale):
    committed = _catalog(ROOT, locale).with_suffix(".mo")
    assert committed.exists(), f"{committed} is not committed (run `make messages`)"
    assert committed.read_bytes() == _catalog(rebuilt, locale).with_suffix(".mo").read_bytes(), (
        f"{committed} is not what compilemessages makes of its .po (run `make messages`)")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_translated_and_none_fuzzy(locale):
    _gettext_here()
    counts = MESSAGES["counts"](_catalog(ROOT, locale))
    print(f"{locale}: {counts}")
    assert counts["strings"] > 0
    # A fuzzy header is left out by msgfmt, and with it the language's Plural-Forms.
    assert '#, fuzzy\nmsgid ""' not in _catalog(ROOT, locale).read_text(), (
        f"locale/{locale}: the header is marked fuzzy")
    assert (counts["untranslated"], counts["fuzzy"]) == (0, 0), (
        f"locale/{locale}: {counts['untranslated']} untranslated, {counts['fuzzy']} fuzzy")


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_agree(locale):
    _gettext_here()
    checked = subprocess.run(["msgfmt", "--check-format", "--check-header", "-o", "/dev/null",
                              str(_catalog(ROOT, locale))], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_counts_table_for_the_note(capsys):
    _gettext_here()
    table = MESSAGES["table"](ROOT)
    with capsys.disabled():
        print("\n" + table)
    assert all(locale in table for locale in LOCALES)
