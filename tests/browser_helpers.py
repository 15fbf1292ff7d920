"""What the browser tests share: one password (hashed fast: the ``fast_passwords`` fixture in
``tests/conftest.py``), logging in through the login form or, for a test about a page rather
than the login, being signed in already, and screenshots saved when ``SCREENSHOT_DIR`` names a
folder (to look at what a test saw)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"


def log_in(page, base_url: str, username: str = "ava", *, start: str = "/people/",
           lands: str | None = None) -> None:
    """Open ``start`` (which sends a visitor to the login form), log in as ``username``, and
    see the page the form leads to: ``start`` again unless ``lands`` (a regex) says where."""
    page.goto(f"{base_url}{start}")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(lands or re.escape(start) + "$"))


def signed_in(browser, base_url: str, user, *, width: int = 1280, height: int = 900,
              **context_options):
    """A new browser context (``width`` × ``height``, and any other ``context_options``)
    holding a session of ``user``'s made by Django's test client, and a page in it:
    ``(context, page)``. No login form."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
    cookie = settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": cookie, "value": client.cookies[cookie].value,
                          "url": base_url}])
    return context, context.new_page()


def shot(page, name: str, *, widths: tuple[int, ...] = ()) -> None:
    """Save the page as ``<SCREENSHOT_DIR>/<name>.png`` (at each of ``widths``:
    ``<name>-<width>.png``, then back to the width it had); nothing without the variable."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not widths:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        return
    kept = page.viewport_size
    for width in widths:
        page.set_viewport_size({"width": width, "height": kept["height"] if kept else 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    if kept:
        page.set_viewport_size(kept)
