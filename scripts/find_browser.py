"""Find a Chromium for the browser tests, installing one if need be, and remember where it is.

`make test` runs this with the virtualenv's Python before pytest. It takes the first of:
1. the browser named by BROWSER_PATH (only that one: a wrong path is an error, not a hint);
2. one already on the machine: chromium, chromium-browser or google-chrome on PATH, or a Chromium
   Playwright downloaded earlier (in PLAYWRIGHT_BROWSERS_PATH, default ~/.cache/ms-playwright);
3. Playwright's own download, cut off after DOWNLOAD_SECONDS;
4. Debian's chromium package through apt-get, when running as root on Debian.
What it finds is written to <venv>/.browser, so the next run only checks that it still exists.
When nothing works it prints one line saying what to run and still exits 0: the browser tests
then fail with that same line (tests/conftest.py) while the rest of the suite runs.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

NAMED = "BROWSER_PATH"
ON_PATH = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DOWNLOAD_SECONDS = 120
APT_SECONDS = 900
REMEMBERED = Path(sys.prefix) / ".browser"


class BrowserMissing(Exception):
    """Its message is the one line telling the user what to run."""


def _executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def _root():
    return os.geteuid() == 0


def _debian():
    return Path("/etc/debian_version").exists()


def _apt_usable():
    return _root() and _debian() and shutil.which("apt-get") is not None


def missing_line():
    if _debian():
        run = "apt-get install -y chromium" if _root() else "sudo apt-get install -y chromium"
    else:
        run = f"{sys.executable} -m playwright install chromium"
    return f"No browser for the browser tests: run `{run}`, or set {NAMED} to a Chromium or Chrome."


def _playwright_downloaded():
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    found = [p for p in root.glob("chromium-*/chrome-linux*/chrome") if _executable(p)]
    # The newest revision is the one closest to what this Playwright expects.
    found.sort(key=lambda p: int(p.parts[-3].rpartition("-")[2] or 0), reverse=True)
    return str(found[0]) if found else None


def on_machine():
    """A browser already here, found without installing anything (cheap enough for every run)."""
    for name in ON_PATH:
        if path := shutil.which(name):
            return path
    return _playwright_downloaded()


def browser_located(remembered=REMEMBERED):
    """The browser to use without installing one: named, remembered or already on the machine."""
    named = os.environ.get(NAMED)
    if named:
        if not _executable(named):
            raise BrowserMissing(f"{NAMED}={named} is not an executable file: point it at a "
                                 f"Chromium or Chrome, or unset it to let `make test` find one.")
        return named
    if remembered.exists() and _executable(path := remembered.read_text().strip()):
        return path
    return on_machine()


def _run(command, seconds, env=None):
    """Run `command`, killing it (and what it started) after `seconds`; True if it succeeded.
    Its output is shown only when it fails, and then only its first error line."""
    print("find_browser:", " ".join(command), file=sys.stderr, flush=True)
    process = subprocess.Popen(command, env=env, start_new_session=True, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        print(f"find_browser: gave up after {seconds}s", file=sys.stderr)
        return False
    if process.returncode == 0:
        return True
    lines = [line.strip() for line in output.splitlines() if line.strip()] or ["(no output)"]
    error = next((line for line in lines if "error" in line.lower()), lines[-1])
    print(f"find_browser: failed ({process.returncode}): {error}", file=sys.stderr)
    return False


def _playwright_install():
    _run([sys.executable, "-m", "playwright", "install", "chromium"], DOWNLOAD_SECONDS)
    return _playwright_downloaded()


def _apt_install():
    if not _apt_usable():
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Others may hold the dpkg lock for a while (another install); wait for it rather than fail.
    apt = ["apt-get", "-qq", "-o", "DPkg::Lock::Timeout=300"]
    if (_run([*apt, "update"], APT_SECONDS, env)
            and _run([*apt, "install", "-y", "chromium"], APT_SECONDS, env)):
        return shutil.which("chromium")
    return None


def browser_find(remembered=REMEMBERED):
    """The browser's path, installing one if none is here; remembered for the next run."""
    path = browser_located(remembered) or _playwright_install() or _apt_install()
    if not path:
        remembered.unlink(missing_ok=True)
        raise BrowserMissing(missing_line())
    if not os.environ.get(NAMED):
        remembered.write_text(path + "\n")
    return path


def main():
    remembered = Path(sys.argv[1]) if len(sys.argv) > 1 else REMEMBERED
    try:
        print(f"find_browser: browser tests use {browser_find(remembered)}", file=sys.stderr)
    except BrowserMissing as missing:
        print(f"find_browser: {missing}", file=sys.stderr)


if __name__ == "__main__":
    main()
