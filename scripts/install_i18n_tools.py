"""Make sure the machine has what the language checks need (``make test`` runs this, like
``scripts/find_browser.py``):

- GNU gettext (``msgfmt``, ``msgattrib``, ``msgcat``, ``xgettext``): ``make messages`` and the
  catalog checks (tests/project/test_catalogs.py) run them;
- a font with Chinese glyphs (Debian's ``fonts-noto-cjk``), so the browser tests' screenshots
  of pages in Chinese show characters, not boxes (static/app.css names the fonts).

As root on Debian, what is missing is installed with apt-get (after ``apt-get update`` if the
package is not known yet). Otherwise it prints the one command to run and exits 0: the checks
that need it then fail saying so, while the rest of the suite runs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

APT_SECONDS = 900
GETTEXT_TOOLS = ("msgfmt", "msgattrib", "msgcat", "xgettext", "msgmerge")


def gettext_missing() -> bool:
    return any(shutil.which(tool) is None for tool in GETTEXT_TOOLS)


def cjk_font_missing() -> bool:
    """True when fontconfig knows no font covering Chinese (or fontconfig is not here)."""
    if shutil.which("fc-list") is None:
        return True
    try:
        listed = subprocess.run(["fc-list", ":lang=zh-cn", "family"], capture_output=True,
                                text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True
    return not listed.strip()


NEEDS = {"gettext": gettext_missing, "fonts-noto-cjk": cjk_font_missing}


def _apt(*args: str) -> bool:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", *args],
                              env=environment, timeout=APT_SECONDS, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _apt_usable() -> bool:
    return (os.geteuid() == 0 and Path("/etc/debian_version").exists()
            and shutil.which("apt-get") is not None)


def main() -> int:
    missing = [package for package, is_missing in NEEDS.items() if is_missing()]
    if not missing:
        print("Language tools: gettext and a Chinese font are here")
        return 0
    if _apt_usable():
        print(f"Language tools: installing {' '.join(missing)} with apt-get", flush=True)
        install = ("install", "-y", "-q", "--no-install-recommends", *missing)
        if _apt(*install) or (_apt("update", "-q") and _apt(*install)):
            missing = [package for package in missing if NEEDS[package]()]
    if not missing:
        print("Language tools: installed")
        return 0
    if missing:
        sudo = "" if os.geteuid() == 0 else "sudo "
        print(f"Language tools missing: run `{sudo}apt-get install -y {' '.join(missing)}` "
              f"(gettext for the catalog checks, fonts-noto-cjk for Chinese screenshots).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
