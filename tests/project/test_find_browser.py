"""scripts/find_browser.py, the browser step of `make test`: the order it tries things in, what it
remembers, and the one line it ends with when nothing works. Installs are faked (no network):
`_run` is replaced by a recorder whose effects put fake executables where a real install would."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "find_browser.py"


@pytest.fixture
def locator(monkeypatch, tmp_path):
    """The script as a module, on a machine with nothing: empty PATH and Playwright cache."""
    spec = importlib.util.spec_from_file_location("find_browser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "ms-playwright"))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    executable(tmp_path / "bin" / "apt-get")
    monkeypatch.setattr(module, "_root", lambda: True)
    monkeypatch.setattr(module, "_debian", lambda: True)
    module.ran = []
    module.succeeds = {}  # part of a command line -> what that command does when it succeeds

    def run(command, seconds, env=None):
        line = " ".join(command)
        module.ran.append(line)
        for marker, effect in module.succeeds.items():
            if marker in line:
                effect()
                return True
        return False

    monkeypatch.setattr(module, "_run", run)
    return module


def executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_the_named_browser_is_used_and_nothing_else_tried(locator, tmp_path, monkeypatch):
    executable(tmp_path / "bin" / "chromium")
    named = executable(tmp_path / "elsewhere" / "chrome")
    monkeypatch.setenv("BROWSER_PATH", named)

    assert locator.browser_find(tmp_path / ".browser") == named
    assert locator.ran == []
    assert not (tmp_path / ".browser").exists()


def test_a_named_browser_that_is_missing_fails_naming_the_variable(locator, tmp_path,
                                                                     monkeypatch):
    executable(tmp_path / "bin" / "chromium")
    monkeypatch.setenv("BROWSER_PATH", "/nowhere/chromium")

    with pytest.raises(locator.BrowserMissing) as missing:
        locator.browser_find(tmp_path / ".browser")
    assert str(missing.value) == ("BROWSER_PATH=/nowhere/chromium is not an executable file: "
                                  "point it at a Chromium or Chrome, or unset it to let "
                                  "`make test` find one.")
    assert locator.ran == []


def test_a_browser_on_path_is_remembered_and_not_searched_for_again(locator, tmp_path):
    chromium = executable(tmp_path / "bin" / "chromium")
    remembered = tmp_path / ".browser"

    assert locator.browser_find(remembered) == chromium
    assert remembered.read_text() == chromium + "\n"

    elsewhere = executable(tmp_path / "other" / "chromium")
    remembered.write_text(elsewhere + "\n")
    assert locator.browser_find(remembered) == elsewhere
    assert locator.ran == []


def test_a_remembered_browser_that_is_gone_is_searched_for_again(locator, tmp_path):
    remembered = tmp_path / ".browser"
    remembered.write_text(str(tmp_path / "gone" / "chromium") + "\n")
    chrome = executable(tmp_path / "bin" / "google-chrome")

    assert locator.browser_find(remembered) == chrome
    assert remembered.read_text() == chrome + "\n"


def test_the_newest_chromium_playwright_downloaded_is_used(locator, tmp_path):
    cache = tmp_path / "ms-playwright"
    executable(cache / "chromium-999" / "chrome-linux" / "chrome")
    newest = executable(cache / "chromium-1255" / "chrome-linux64" / "chrome")

    assert locator.browser_find(tmp_path / ".browser") == newest
    assert locator.ran == []


def test_playwright_downloads_one_before_apt_get_is_tried(locator, tmp_path):
    downloaded = tmp_path / "ms-playwright" / "chromium-1255" / "chrome-linux64" / "chrome"
    locator.succeeds["playwright install"] = lambda: executable(downloaded)

    assert locator.browser_find(tmp_path / ".browser") == str(downloaded)
    assert locator.ran == [f"{sys.executable} -m playwright install chromium"]


def test_when_the_download_fails_debian_chromium_is_installed_with_apt_get(locator, tmp_path):
    locator.succeeds["apt-get -qq -o DPkg::Lock::Timeout=300 update"] = lambda: None
    locator.succeeds["install -y chromium"] = lambda: executable(tmp_path / "bin" / "chromium")

    assert locator.browser_find(tmp_path / ".browser") == str(tmp_path / "bin" / "chromium")
    apt = "apt-get -qq -o DPkg::Lock::Timeout=300"
    assert locator.ran == [f"{sys.executable} -m playwright install chromium",
                           f"{apt} update", f"{apt} install -y chromium"]


def test_when_nothing_works_one_line_says_what_to_run(locator, tmp_path):
    remembered = tmp_path / ".browser"
    remembered.write_text(str(tmp_path / "gone") + "\n")

    with pytest.raises(locator.BrowserMissing) as missing:
        locator.browser_find(remembered)
    assert str(missing.value) == ("No browser for the browser tests: run `apt-get install -y "
                                  "chromium`, or set BROWSER_PATH to a Chromium or Chrome.")
    assert not remembered.exists()


def test_a_download_that_hangs_is_cut_off():
    spec = importlib.util.spec_from_file_location("find_browser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = time.monotonic()

    assert module._run([sys.executable, "-c", "import time; time.sleep(120)"], 0.5) is False
    assert time.monotonic() - started < 60


def test_the_script_prints_the_line_and_lets_the_rest_of_the_suite_run(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / ".browser")],
        env={"BROWSER_PATH": "/nowhere/chromium", "PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=60)

    assert result.returncode == 0
    assert result.stderr.strip() == (
        "find_browser: BROWSER_PATH=/nowhere/chromium is not an executable file: point it at "
        "a Chromium or Chrome, or unset it to let `make test` find one.")


def test_without_root_apt_get_is_not_tried_and_the_line_says_sudo(locator, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(locator, "_root", lambda: False)

    with pytest.raises(locator.BrowserMissing) as missing:
        locator.browser_find(tmp_path / ".browser")
    assert locator.ran == [f"{sys.executable} -m playwright install chromium"]
    assert "run `sudo apt-get install -y chromium`" in str(missing.value)
