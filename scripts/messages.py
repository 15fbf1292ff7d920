"""``make messages``: bring the translation catalogs up to date and compile them.

1. Translations handed in as parts (``i18n_parts/<branch>/<lang>.po``, one per helper who
   tagged and translated a part of the app) are merged into ``locale/<lang>/LC_MESSAGES/
   django.po`` (msgcat; a part's translation wins over the catalog's for the same string);
2. ``makemessages`` for the five languages adds the strings tagged since (untranslated) and
   drops those no longer in the code (``--no-obsolete``), without source locations (a moved
   line does not change the catalogs);
3. ``compilemessages`` writes the ``.mo`` files, which are committed: a fresh install needs no
   gettext to show the app in every language;
4. per language: strings, translated, fuzzy, untranslated (the checks of tests/project/
   test_catalogs.py fail on any fuzzy or untranslated one).

``--check DIR`` runs 2-3 on a copy in DIR instead (the tests), leaving the tree alone.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("fr", "es", "it", "pt_BR", "zh_Hans")
# Not the app's text: the virtualenv, the sandboxes of Marketo and Salesforce, tests, bench
# scripts, built or vendored files.
IGNORED = (".venv/*", "sandbox/*", "tests/*", "bench/*", "node_modules/*", "staticfiles/*",
           "var/*", "i18n_parts/*", "scripts/*", "static/vendor/*")


def catalog(root: Path, locale: str) -> Path:
    return root / "locale" / locale / "LC_MESSAGES" / "django.po"


def parts_merge(root: Path, locale: str) -> None:
    parts = sorted((root / "i18n_parts").glob(f"*/{locale}.po"))
    target = catalog(root, locale)
    sources = [str(part) for part in parts] + ([str(target)] if target.exists() else [])
    if not parts:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["msgcat", "--use-first", "--no-location", "-o", str(target), *sources],
                   check=True)


def make_messages(root: Path) -> None:
    ignored = [argument for pattern in IGNORED for argument in ("-i", pattern)]
    languages = [argument for locale in LOCALES for argument in ("-l", locale)]
    run = [sys.executable, "manage.py"]
    subprocess.run([*run, "makemessages", *languages, "--no-obsolete", "--no-location",
                    *ignored], cwd=root, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*run, "compilemessages", *languages, *ignored], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)


def counts(po: Path) -> dict[str, int]:
    """Strings, translated, fuzzy, untranslated in one catalog (msgattrib counts)."""
    def entries(*options: str) -> int:
        out = subprocess.run(["msgattrib", *options, "--no-wrap", str(po)],
                             capture_output=True, text=True, check=True).stdout
        # Every entry but the header starts with a msgid line of its own.
        return sum(1 for line in out.splitlines() if line.startswith("msgid ")) - (
            1 if out.strip() else 0)
    total = entries("--no-obsolete")
    fuzzy = entries("--only-fuzzy", "--no-obsolete")
    untranslated = entries("--untranslated", "--no-obsolete")
    return {"strings": total, "translated": total - fuzzy - untranslated, "fuzzy": fuzzy,
            "untranslated": untranslated}


def table(root: Path) -> str:
    lines = [f"{'language':<9} {'strings':>8} {'translated':>11} {'fuzzy':>6} {'untranslated':>13}"]
    for locale in LOCALES:
        c = counts(catalog(root, locale))
        lines.append(f"{locale:<9} {c['strings']:>8} {c['translated']:>11} {c['fuzzy']:>6} "
                     f"{c['untranslated']:>13}")
    return "\n".join(lines)


def tree_copy(destination: Path) -> Path:
    """The app's sources and catalogs copied to ``destination`` (for a check that must not
    touch the tree)."""
    skip = shutil.ignore_patterns(".venv", ".git", "var", "staticfiles", "node_modules",
                                  "__pycache__", "tests", "bench", "sandbox", "*.egg-info",
                                  ".ruff_cache", ".pytest_cache", "i18n_parts")
    shutil.copytree(ROOT, destination, ignore=skip, dirs_exist_ok=True)
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path, help="work on a copy of the tree in this folder")
    arguments = parser.parse_args()
    root = tree_copy(arguments.check) if arguments.check else ROOT
    if not arguments.check:
        for locale in LOCALES:
            parts_merge(root, locale)
    make_messages(root)
    print(table(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
