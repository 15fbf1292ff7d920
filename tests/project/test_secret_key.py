"""No install signs links with a key anyone can know: production refuses a weak or published
``SECRET_KEY`` with one line that says how to set one, each development install generates its
own, the deploy check fails on a weak key, and ``SECRET_KEY_FALLBACKS`` keeps old links alive
while a key is rotated."""

import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core import signing
from django.db import connection
from factories import SalesEmailFactory

from salesactions.secret_key import (
    KNOWN_KEYS,
    UnsafeSecretKey,
    secret_key_generated,
    secret_key_resolve,
    secret_key_weakness,
)
from syncing.models import MarketoConnection

ROOT = Path(__file__).resolve().parents[2]
OLD_DEV_KEY = "dev-only-insecure-secret-key-change-me-in-production"
STRONG = secrets.token_urlsafe(50)


def django_process(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")} | env
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("key, reason", [
    (OLD_DEV_KEY, "published"),
    ("django-insecure-" + "k" * 50, "published"),
    ("short-but-random-Zq8", "shorter than 50"),
    ("ab" * 40, "fewer than 5 different"),
    ("", "empty"),
])
def test_weak_keys_are_named_with_their_reason(key, reason):
    assert reason in secret_key_weakness(key)


def test_a_random_key_of_50_characters_is_strong():
    assert secret_key_weakness(STRONG) is None
    assert all(secret_key_weakness(key) for key in KNOWN_KEYS)


@pytest.mark.parametrize("env", [
    {"SECRET_KEY": OLD_DEV_KEY}, {"SECRET_KEY": "x" * 60}, {"SECRET_KEY": "too-short"}, {},
], ids=["published", "one-character", "short", "unset"])
def test_production_refuses_to_start_with_a_weak_or_missing_key(env):
    result = django_process("check", DEBUG="false", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Sales Actions will not start: SECRET_KEY")
    assert "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" in lines[0]


def test_production_refuses_a_weak_fallback_key():
    result = django_process("check", DEBUG="false", SECRET_KEY=STRONG,
                            SECRET_KEY_FALLBACKS=OLD_DEV_KEY)
    assert result.returncode == 2
    assert "SECRET_KEY_FALLBACKS entry 1" in result.stderr


def test_production_starts_with_a_strong_key():
    result = django_process("check", DEBUG="false", SECRET_KEY=STRONG)
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_fails_on_the_old_development_key():
    result = django_process("check", "--deploy", DEBUG="true", SECRET_KEY=OLD_DEV_KEY)
    assert result.returncode != 0
    assert "salesactions.E001" in result.stderr
    assert "SECRET_KEY is a published development key" in result.stderr


def test_each_install_generates_its_own_key_once(tmp_path):
    first = secret_key_resolve(None, debug=True, key_file=tmp_path / "one" / "secret_key")
    again = secret_key_resolve(None, debug=True, key_file=tmp_path / "one" / "secret_key")
    other = secret_key_resolve(None, debug=True, key_file=tmp_path / "two" / "secret_key")
    assert first == again
    assert first != other
    assert secret_key_weakness(first) is None
    assert (tmp_path / "one" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_together_agree_on_one_generated_key(tmp_path):
    key_file = tmp_path / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: secret_key_generated(key_file), range(16)))
    assert len(keys) == 1
    assert list(tmp_path.iterdir()) == [key_file]


def test_development_without_a_key_signs_with_the_generated_one(tmp_path):
    key_file = tmp_path / "secret_key"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         " print(settings.SECRET_KEY)"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
        | {"DJANGO_SETTINGS_MODULE": "salesactions.settings", "DEBUG": "true",
           "SECRET_KEY_FILE": str(key_file)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key_file.read_text().strip()
    assert result.stdout.strip() != OLD_DEV_KEY


def test_without_debug_an_unset_key_is_refused_in_process(tmp_path):
    with pytest.raises(UnsafeSecretKey, match="SECRET_KEY is not set and DEBUG is off"):
        secret_key_resolve(None, debug=False, key_file=tmp_path / "secret_key")
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.django_db
def test_a_click_link_signed_with_the_old_development_key_is_refused(client):
    email = SalesEmailFactory()
    forged = signing.dumps([email.pk, "https://evil.example/phish"], key=OLD_DEV_KEY,
                           salt="emails.tokens.click", compress=True)
    answer = client.get(f"/e/c/{forged}/")
    assert answer.status_code == 404
    assert "Location" not in answer.headers
    unsubscribe = signing.dumps(email.pk, key=OLD_DEV_KEY, salt="emails.tokens.unsubscribe")
    assert client.post(f"/e/u/{unsubscribe}/").status_code == 404


@pytest.mark.django_db
def test_links_signed_with_a_fallback_key_keep_working_until_it_is_removed(client, settings):
    from emails.tokens import click_token

    email = SalesEmailFactory()
    old_key = settings.SECRET_KEY
    token = click_token(email.pk, "https://example.com/pricing")
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    answer = client.get(f"/e/c/{token}/")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://example.com/pricing"
    settings.SECRET_KEY_FALLBACKS = []
    assert client.get(f"/e/c/{token}/").status_code == 404


@pytest.mark.django_db
def test_stored_secrets_read_with_a_fallback_key_and_are_reencrypted_on_save(settings):
    connection_row = MarketoConnection.objects.create(client_secret="marketo-secret")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert MarketoConnection.objects.get(pk=connection_row.pk).client_secret == "marketo-secret"
    MarketoConnection.objects.get(pk=connection_row.pk).save()
    settings.SECRET_KEY_FALLBACKS = []
    assert MarketoConnection.objects.get(pk=connection_row.pk).client_secret == "marketo-secret"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_secret FROM {MarketoConnection._meta.db_table}")
        assert "marketo-secret" not in cursor.fetchone()[0]
