"""Where ``SECRET_KEY`` comes from, and the rule that no install signs links with a known key.

Everything the app signs — the open, click and unsubscribe links inside emails, sessions,
password reset tokens — and the key that encrypts stored secrets derive from ``SECRET_KEY``. A
key anyone can read (one committed to a repository, a short or well-known one) lets anyone sign
a click link to any site or unsubscribe any recipient. So:

- ``SECRET_KEY`` set (environment or ``.env``): used, and with ``DEBUG=False`` it must be strong.
- not set, ``DEBUG`` on (``make run``, the tests): a random key generated once per install into
  ``var/secret_key`` (mode 0600), so no two installs share one.
- not set, ``DEBUG=False``: refused. Production processes (web, worker, beat) often run on
  different hosts or containers, and they must all sign with the same key: set it explicitly.

``SECRET_KEY_FALLBACKS`` keeps links signed with an earlier key working while it is listed
(Django's signing checks them after the current key; stored secrets decrypt with them too).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5

# Keys that have been published: this project's old development default, Django's template
# placeholder and the usual examples. A key on this list is refused whatever its length.
KNOWN_KEYS = frozenset({
    "dev-only-insecure-secret-key-change-me-in-production",
    "change-me", "changeme", "secret", "secret-key", "your-secret-key", "django-insecure",
    "bench-only-" + "x" * 50,
})

HOW_TO_SET = ("set SECRET_KEY to a random value of at least 50 characters, e.g. "
              "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')")


class UnsafeSecretKey(Exception):
    """The key must not be used to sign links; the message is one line that says how to fix it."""


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` must not sign anything in production, or None when it is fine."""
    if not key:
        return "SECRET_KEY is empty"
    if key in KNOWN_KEYS or key.startswith("django-insecure"):
        return "SECRET_KEY is a published development key"
    if len(key) < MIN_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"SECRET_KEY has fewer than {MIN_UNIQUE_CHARACTERS} different characters"
    return None


def secret_key_generated(path: Path) -> str:
    """This install's own random key, made on first use and kept in ``path`` (0600).

    Several processes start at once under ``make run`` (web, worker, beat): the first to create
    the file wins (``O_EXCL``) and the others read what it wrote.
    """
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    new_key = secrets.token_urlsafe(64)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(new_key + "\n")
    try:
        os.link(partial, path)  # atomic, and fails if another process made the file first
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
    return path.read_text().strip()


def secret_key_resolve(configured: str | None, *, debug: bool, key_file: Path,
                       fallbacks: list[str] = ()) -> str:
    """The key this process signs with, or ``UnsafeSecretKey`` with the one-line reason.

    With DEBUG off the fallbacks must be strong too: a link signed with any of them is accepted.
    """
    if configured is None or configured == "":
        if not debug:
            raise UnsafeSecretKey(f"SECRET_KEY is not set and DEBUG is off: {HOW_TO_SET}.")
        configured = secret_key_generated(key_file)
    elif not debug:
        weakness = secret_key_weakness(configured)
        if weakness:
            raise UnsafeSecretKey(f"{weakness} and DEBUG is off: {HOW_TO_SET}.")
    if not debug:
        for position, fallback in enumerate(fallbacks, start=1):
            weakness = secret_key_weakness(fallback)
            if weakness:
                raise UnsafeSecretKey(
                    f"SECRET_KEY_FALLBACKS entry {position}: {weakness.removeprefix('SECRET_KEY ')}"
                    " and DEBUG is off: remove it, or rotate to strong keys.")
    return configured
