"""Make sure Dovecot's IMAP server is on the machine for the mailbox tests (``make test`` runs
this, like ``scripts/find_browser.py``): nothing to do when ``dovecot`` is installed; as root
on Debian, ``apt-get install dovecot-imapd`` (after ``apt-get update`` if the package is not
known yet). Otherwise it prints the one command to run and exits 0: the mailbox tests then fail
with that same line (``sandbox/dovecot.py``) while the rest of the suite runs.

The system service the package may start is left alone: tests run their own instances on
free ports (``sandbox/dovecot.py``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.dovecot import DovecotMissing, dovecot_binary  # noqa: E402

PACKAGE = "dovecot-imapd"
APT_SECONDS = 900


def _apt(*args: str) -> bool:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(["apt-get", *args], env=environment, timeout=APT_SECONDS,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def main() -> int:
    try:
        print(f"Dovecot: {dovecot_binary()}")
        return 0
    except DovecotMissing as missing:
        message = str(missing)
    if os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get"):
        print(f"Dovecot: installing {PACKAGE} with apt-get", flush=True)
        install = ("install", "-y", "-q", "--no-install-recommends", PACKAGE)
        if _apt(*install) or (_apt("update", "-q") and _apt(*install)):
            print(f"Dovecot: {dovecot_binary()}")
            return 0
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
