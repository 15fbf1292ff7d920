"""Shared fixtures; the sandboxes run in-process on loopback ports, reached over real HTTP."""

import os
import runpy
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sandboxes import (
    MARKETO_CLIENT_ID,
    MARKETO_CLIENT_SECRET,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    UnthrottledSandbox,
)

from sandbox.control import SandboxControl
from sandbox.server import serve_in_thread


@pytest.fixture(scope="session", autouse=True)
def _cache_of_this_run():
    """Cache keys of this test run's own (its workers inherit the prefix): two runs sharing a
    cache (one Redis db, or var/cache) must not see each other's throttle counts, cached
    people lists or list versions."""
    import os

    from django.conf import settings
    from django.test.utils import override_settings

    prefix = f"test-{os.getpid()}"
    os.environ["CACHE_KEY_PREFIX"] = prefix
    caches = {alias: {**config, "KEY_PREFIX": prefix}
              for alias, config in settings.CACHES.items()}
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_behind(django_db_setup, django_db_blocker):
    """At the end of the run, before the test database is dropped: on PostgreSQL, any other
    session still connected to it (a thread's or a subprocess's connection never closed) is
    reported with what it last ran, then ended, so the drop does not fail with "database
    test_... is being accessed by other users" (and leave the database behind)."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith(
            "test_"):
        return
    import warnings

    try:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            others = cursor.fetchall()
            for pid, *_ in others:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    except Exception:  # noqa: BLE001 - no database was set up: nothing to report
        return
    for pid, application, state, query in others:
        warnings.warn(f"a connection was left open to the test database (pid {pid}, "
                      f"{application or 'no application name'}, {state}): {query}",
                      stacklevel=1)


@pytest.fixture(autouse=True)
def _language_and_zone_reset():
    """A request activates its language and the user's time zone for the thread
    (salesactions/i18n.py) and leaves them there, as Django does; the next request sets its
    own, but a test rendering a template directly must start from the defaults."""
    yield
    from django.utils import timezone, translation

    translation.deactivate()
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _people_lists_fresh():
    """People lists cached by an earlier test belong to rows that test rolled back."""
    from people.list_cache import _version_move

    _version_move()


@pytest.fixture(autouse=True)
def _api_clients_fresh():
    """Kept Marketo and Salesforce clients (``client_kept``) were built with an earlier test's
    settings and sandbox tokens, and the tokens shared in Redis were the sandbox's before its
    reset."""
    from syncing.clients.shared_token import tokens_shared_forget
    from syncing.settings.services import clients_kept_reset

    clients_kept_reset()
    tokens_shared_forget()
    yield
    clients_kept_reset()
    tokens_shared_forget()


@pytest.fixture(scope="session")
def marketo_server():
    from sandbox.marketo import MarketoSandbox

    server = serve_in_thread(MarketoSandbox(client_id=MARKETO_CLIENT_ID,
                                            client_secret=MARKETO_CLIENT_SECRET))
    yield server
    server.shutdown()


@pytest.fixture
def marketo_sandbox(marketo_server):
    """A freshly reset Marketo sandbox (2,000 seed leads); ``.base_url`` is its address."""
    control = SandboxControl(marketo_server.url)
    control.reset()
    return control


@pytest.fixture(scope="session")
def salesforce_server():
    from sandbox.salesforce import SalesforceSandbox

    server = serve_in_thread(SalesforceSandbox(client_id=SALESFORCE_CLIENT_ID,
                                               client_secret=SALESFORCE_CLIENT_SECRET))
    yield server
    server.shutdown()


@pytest.fixture
def salesforce_sandbox(salesforce_server):
    """A freshly reset Salesforce sandbox; ``.base_url`` is its My Domain URL."""
    control = SandboxControl(salesforce_server.url)
    control.reset()
    return control


@pytest.fixture
def seller(db):
    from factories import UserFactory

    return UserFactory()


@pytest.fixture
def admin_user(db):
    from factories import AdminFactory

    return AdminFactory()


@pytest.fixture
def seller_client(client, seller):
    client.force_login(seller)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def marketo_connected(db, marketo_server, settings):
    """The app connected to a freshly reset Marketo sandbox, paced by no rate limit."""
    from syncing.models import MarketoConnection

    settings.MARKETO_CALLS_PER_WINDOW = 100_000
    settings.MARKETO_MAX_IN_FLIGHT = 10
    settings.MARKETO_BULK_POLL_MAX_SECONDS = 0.2
    control = UnthrottledSandbox(marketo_server.url)
    control.reset()
    MarketoConnection(base_url=control.base_url, client_id=MARKETO_CLIENT_ID,
                      client_secret=MARKETO_CLIENT_SECRET).save()
    return control


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright: the one `make test` found or installed
    (scripts/find_browser.py). Without one the test fails, saying what to run; it never skips."""
    from playwright.sync_api import expect, sync_playwright

    # An expectation waits until it holds; 5 s, Playwright's default, was once too short on a
    # loaded two-core machine (a test connection to the Marketo sandbox behind a live server).
    expect.set_options(timeout=15_000)
    locator = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "find_browser.py"))
    try:
        executable, missing = locator["browser_located"](), locator["missing_line"]()
    except locator["BrowserMissing"] as named_wrong:
        executable, missing = None, str(named_wrong)
    if not executable:
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def fast_passwords(settings):
    """Users made with a password log in without the real hasher's deliberate slowness (a
    browser test logs in through the form)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def mail_server():
    """A real SMTP server on loopback (aiosmtpd on a free port, with its page), for the run."""
    from sandbox.mailcapture import MailCapture

    capture = MailCapture().start()
    yield capture
    capture.stop()


@pytest.fixture
def mailbox(mail_server, settings):
    """The app's email backend pointed at ``mail_server`` over real SMTP; ``.store`` holds what
    arrived (emptied for each test)."""
    mail_server.store.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", mail_server.smtp_port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    return mail_server


# ------------------------------------------------------ sellers' own mailboxes (IMAP and SMTP)

@pytest.fixture(scope="session")
def oauth_server():
    """The local OAuth2 provider (sandbox/oauth.py) standing in for Google and Microsoft."""
    from sandbox.oauth import OAuthSandbox

    provider = OAuthSandbox()
    server = serve_in_thread(provider)
    server.provider = provider
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def imap_server(oauth_server):
    """Debian's Dovecot on a free loopback port, with its own config (sandbox/dovecot.conf):
    passwd-file users, and XOAUTH2 tokens checked at the OAuth sandbox (oauth2 passdb), for
    the run. Missing Dovecot fails the test with the command that installs it."""
    from sandbox.dovecot import Dovecot, DovecotMissing

    try:
        server = Dovecot(oauth2_url=f"{oauth_server.url}/introspect").start()
    except DovecotMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def submission_server(oauth_server):
    """An SMTP submission server that requires AUTH (aiosmtpd; XOAUTH2 tokens checked at the
    OAuth sandbox), for the run."""
    from sandbox.mailcapture import MailCapture

    capture = MailCapture(accounts={}).start(web=False)
    capture.smtp.token_check = (
        lambda user, token: oauth_server.provider.account_of(token) == user)
    yield capture
    capture.stop()


@dataclass
class MailAccount:
    """One seller's account on both servers (a fresh address per test)."""

    address: str
    password: str
    imap: object
    smtp: object

    def connect_body(self, **changes) -> dict:
        """What ``POST /api/v1/mailboxes/`` takes to connect this account."""
        return {"imap_host": "127.0.0.1", "imap_port": self.imap.port, "imap_security": "none",
                "smtp_host": "127.0.0.1", "smtp_port": self.smtp.smtp_port,
                "smtp_security": "none", "username": self.address,
                "password": self.password} | changes

    def password_set(self, password: str) -> None:
        """Change the password on both servers (the next logins see it)."""
        self.password = password
        self.imap.add_user(self.address, password)
        self.smtp.smtp.accounts[self.address] = password

    def client(self, folder: str = "INBOX", readonly: bool = False):
        """An IMAP connection of the test's own, signed in, with ``folder`` selected."""
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.imap.port, ssl=False, timeout=10)
        client.login(self.address, self.password)
        client.select_folder(folder, readonly=readonly)
        return client

    def received(self) -> list:
        """What the submission server took from this account."""
        return [m for m in self.smtp.store.messages() if m.auth_user == self.address]


@pytest.fixture
def mail_account(imap_server, submission_server):
    import uuid

    account = MailAccount(f"seller-{uuid.uuid4().hex[:10]}@example.com",
                          f"pw-{uuid.uuid4().hex[:12]}", imap_server, submission_server)
    account.password_set(account.password)
    return account


# ---------------------------------------------------------- seed people, Salesforce connected
# (calls and sales email log to both sandboxes; these are the people and connection they use)

SEED_LEADS = 2000


def seed_numbers(kind: str, count: int = 1) -> list[int]:
    """Seed lead numbers of one shape: ``contact_opportunity``, ``contact_account``, ``lead``
    (a Salesforce Lead), ``no_salesforce`` (owned, but in no Salesforce record)."""
    from sandbox import seed

    numbers = []
    for number in range(1, SEED_LEADS + 1):
        lead = seed.lead(number, 1, SEED_LEADS)
        if not lead["leadOwnerEmailAddress"]:
            continue
        shape = ("contact_opportunity" if lead["sfdcOpptyId"]
                 else "contact_account" if lead["sfdcContactId"]
                 else "lead" if lead["sfdcLeadId"] else "no_salesforce")
        if shape == kind:
            numbers.append(number)
            if len(numbers) == count:
                return numbers
    raise AssertionError(f"not enough {kind} seed leads")


@pytest.fixture
def seed_people(db):
    """Make people of one shape from seed leads, stored as the Marketo sync stores them."""
    from people.models import Person
    from people.services import person_apply_leads
    from sandbox import seed

    def make(kind: str, count: int = 1) -> list[Person]:
        numbers = seed_numbers(kind, count)
        person_apply_leads(seed.lead(number, 1, SEED_LEADS) for number in numbers)
        by_id = Person.objects.in_bulk(numbers, field_name="marketo_id")
        return [by_id[number] for number in numbers]

    return make


@pytest.fixture
def salesforce_connected(db, salesforce_sandbox):
    """The app connected to a freshly reset Salesforce sandbox."""
    from syncing.models import SalesforceConnection

    SalesforceConnection(url=salesforce_sandbox.base_url,
                         client_id=SALESFORCE_CLIENT_ID,
                         client_secret=SALESFORCE_CLIENT_SECRET,
                         api_version="62.0").save()
    return salesforce_sandbox


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis: ``REDIS_URL`` when set (CI), else a private ``redis-server`` on a free
    loopback port for this session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("No Redis for the tests that need one: set REDIS_URL, or install "
                    "redis-server (apt-get install -y redis-server).", pytrace=False)
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def private_queue():
    """Tasks the test enqueues go to a queue of its own, which its worker alone takes (see
    ``subprocess_env.celery_worker``)."""
    import uuid

    from salesactions.celery import app as celery_app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = "celery"
