"""Safe production defaults: with DEBUG off the app serves its static files with or without
``collectstatic``, sends its security headers (HSTS and secure cookies with HTTPS=true), passes
``check --deploy``, keeps script out of its pages (the Content-Security-Policy allows none
inline) and locks out repeated failed logins.

The static file and header tests start the real thing: gunicorn with the production settings
(gunicorn.conf.py, DEBUG=false) in a subprocess, on a socket this test binds (port 0: the OS
picks a free one) and hands over, so there is no port to guess and no waiting for it to listen.
"""

import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_urlsafe(60)


def production_env(**env) -> dict:
    """The environment of a production process: this one's, less what only the tests set
    (playwright's DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly refuses)."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return base | {"DEBUG": "false", "SECRET_KEY": SECRET, **env}


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def fetch(url: str, headers: dict | None = None) -> Answer:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        # Generous: a busy machine may take a while to start gunicorn; the socket already
        # listens, so the request waits in its backlog until a worker takes it.
        with opener.open(request, timeout=120) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


@pytest.fixture
def production_server(tmp_path):
    """Start gunicorn with DEBUG off and the given environment; returns its base URL."""
    started = []

    def start(**env) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.set_inheritable(True)
        fd = listener.fileno()
        environment = production_env(**{
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "not-collected"), "GUNICORN_BIND": f"fd://{fd}",
            "WEB_CONCURRENCY": "1", **env})
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "salesactions.wsgi", "--config",
             "gunicorn.conf.py"], cwd=ROOT, env=environment, pass_fds=[fd],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append((process, listener))
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for process, listener in started:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()
        listener.close()


def test_with_debug_off_static_files_are_served_without_collectstatic(production_server):
    url = production_server()

    page = fetch(f"{url}/login/")
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.body.decode())

    assert page.status == 200
    assert "/static/app.css" in linked and "/static/app.js" in linked
    for path in linked:
        answer = fetch(url + path)
        assert answer.status == 200, path
    assert fetch(f"{url}/static/app.css").headers["Content-Type"].startswith("text/css")


def test_after_collectstatic_static_files_are_hashed_and_cached(production_server, tmp_path):
    collected = tmp_path / "collected"
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                   env=production_env(STATIC_ROOT=str(collected)), check=True, timeout=300)
    url = production_server(STATIC_ROOT=str(collected))

    page = fetch(f"{url}/login/").body.decode()
    css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', page)

    assert css, page
    answer = fetch(url + css.group(1))
    assert answer.status == 200
    assert "max-age=315360000" in answer.headers["Cache-Control"]


def test_pages_carry_the_security_headers(production_server):
    url = production_server()

    headers = fetch(f"{url}/login/").headers

    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: no HSTS


def test_behind_https_hsts_secure_cookies_and_a_redirect_from_http(production_server):
    url = production_server(HTTPS="true")

    secure = fetch(f"{url}/login/", {"X-Forwarded-Proto": "https"})
    plain = fetch(f"{url}/login/")
    probe = fetch(f"{url}/healthz")

    assert secure.status == 200
    assert secure.headers["Strict-Transport-Security"] == \
        "max-age=31536000; includeSubDomains"
    cookie = secure.headers["Set-Cookie"]
    assert "csrftoken=" in cookie and "Secure" in cookie
    assert plain.status == 301 and plain.headers["Location"].startswith("https://")
    assert probe.status in (200, 503)  # the load balancer's probe is not redirected


@pytest.mark.parametrize("https", ["true", "false"])
def test_check_deploy_finds_nothing_that_applies(https):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=production_env(HTTPS=https, ALLOWED_HOSTS="sales.example.com"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --------------------------------------------------------------------------- no inline script

TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on*= event handler"),
    (re.compile(r"\shx-on[:\-]", re.I), "an hx-on handler (htmx evaluates it as script)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_template_holds_inline_script():
    found = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            text = template.read_text()
            for pattern, what in INLINE:
                if pattern.search(text):
                    found.append(f"{template.relative_to(ROOT)}: {what}")

    assert not found, ("The Content-Security-Policy blocks inline script: move it to a "
                       "static .js file (see static/app.js). " + "; ".join(found))


@pytest.mark.django_db
def test_the_api_docs_page_loads_its_script_from_files(admin_client):
    page = admin_client.get("/api/docs/")
    script = admin_client.get("/api/docs/?script=")

    assert page.status_code == 200
    scripts = re.findall(r"<script[^>]*>", page.content.decode())
    assert scripts and all("src=" in tag for tag in scripts)
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# --------------------------------------------------------------------------- login lockout


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_for_a_while(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="carla", password="right-password")
    client = Client()

    failures = [client.post("/login/", {"username": "carla", "password": f"wrong-{n}"})
                for n in range(settings.AXES_FAILURE_LIMIT - 1)]
    last = client.post("/login/", {"username": "carla", "password": "wrong-again"})
    right = client.post("/login/", {"username": "carla", "password": "right-password"})

    assert all(r.status_code == 200 for r in failures)  # the form again, with its error
    assert "After 5 failed logins" in failures[0].content.decode()
    assert last.status_code == 429
    assert right.status_code == 429  # even the right password, until the lock expires
    message = right.content.decode()
    assert "Too many failed logins" in message and "locked for 15 minutes" in message
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_failed_logins_from_one_address_lock_it_for_every_account(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="dora", password="right-password")
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    elsewhere = Client(REMOTE_ADDR="198.51.100.4")

    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/login/", {"username": f"guess-{n}", "password": "x"})

    assert attacker.post("/login/", {"username": "dora",
                                     "password": "right-password"}).status_code == 429
    assert elsewhere.post("/login/", {"username": "dora",
                                      "password": "right-password"}).status_code == 302


def test_gunicorn_forks_workers_for_an_app_that_sets_django_up_on_its_first_request():
    # A bench serves its own WSGI callable that sets Django up lazily; pre_fork runs in the
    # master before any request, so it must not import the URLconf then.
    script = ("import runpy; runpy.run_path('gunicorn.conf.py')['pre_fork'](None, None); "
              "from django.apps import apps; print('forked', apps.ready)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=production_env(),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "forked False"
