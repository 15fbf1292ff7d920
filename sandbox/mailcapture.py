"""A local mail capture: an SMTP sink (aiosmtpd) that keeps what it receives, and a small web
page listing the messages (subject, from, to, headers, text and HTML bodies).

``make run`` starts it and points ``EMAIL_URL`` at it; tests start one on free loopback ports
(``MailCapture().start()``). ``fail_next(code, text, times)`` makes the sink answer the next
messages' DATA with an error (``451`` transient, ``550`` permanent) — a controllable fault, like
the sandboxes'.

With ``accounts`` (username → password, changeable while it runs) it is a submission server
that requires AUTH (PLAIN or LOGIN; XOAUTH2 with a ``token_check``) before MAIL FROM, and
keeps who signed in with each message (``Captured.auth_user``) — the seller's own mailbox in
the mailbox tests.

``python -m sandbox.mailcapture --smtp-port 1025 --http-port 8025``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email
import email.policy
import html
import json
import logging
import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiosmtpd.smtp import SMTP
from werkzeug.wrappers import Request, Response

from .server import serve_in_thread

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)

#: Messages kept (oldest dropped first).
KEEP = 20_000


@dataclass
class Captured:
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    auth_user: str = ""
    _parsed: object = field(default=None, repr=False)

    @property
    def message(self) -> email.message.EmailMessage:
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        return self._parsed

    def header(self, name: str) -> str:
        return str(self.message.get(name, "")).strip()

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return part.get_content().replace("\r\n", "\n")
        return ""

    def summary(self) -> dict:
        return {"id": self.id, "received_at": self.received_at.isoformat(),
                "mail_from": self.mail_from, "rcpt_tos": self.rcpt_tos,
                "subject": self.header("Subject"), "from": self.header("From"),
                "to": self.header("To"), "message_id": self.header("Message-ID")}

    def detail(self) -> dict:
        return self.summary() | {
            "headers": [[name, str(value)] for name, value in self.message.items()],
            "text": self.part("text/plain"), "html": self.part("text/html")}


class MailStore:
    """The captured messages, shared by the SMTP handler and the web page (thread-safe)."""

    def __init__(self, answer_delay_ms: float = 0):
        self._messages: list[Captured] = []
        # Each DATA answer waits this long: a remote server's round trip (bench/workers.py).
        self.answer_delay = answer_delay_ms / 1000
        self._next_id = 1
        self._changed = threading.Condition()
        self._faults: list[tuple[int, str]] = []
        self._pause_after: int | None = None
        self.paused = threading.Event()  # set while a message waits in a pause

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes,
            auth_user: str = "") -> Captured:
        with self._changed:
            captured = Captured(self._next_id, datetime.now(UTC), mail_from, list(rcpt_tos), raw,
                                auth_user)
            self._next_id += 1
            self._messages.append(captured)
            del self._messages[:-KEEP]
            self._changed.notify_all()
            return captured

    def messages(self) -> list[Captured]:
        with self._changed:
            return list(self._messages)

    def get(self, message_id: int) -> Captured | None:
        with self._changed:
            return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
            self._faults.clear()
            self._pause_after = None
            self.paused.clear()

    def wait_for(self, count: int, timeout: float = 30) -> list[Captured]:
        """Wait until at least ``count`` messages are kept (raises TimeoutError)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} of {count} messages arrived")
            return list(self._messages)

    def fail_next(self, code: int, text: str, times: int = 1) -> None:
        with self._changed:
            self._faults.extend([(code, text)] * times)

    def pause_after(self, count: int | None) -> None:
        """Keep the message after the first ``count`` waiting in DATA (no answer) until
        ``pause_after(None)``: a slow server, to stop a sender mid-batch."""
        with self._changed:
            self._pause_after = count

    def must_wait(self) -> bool:
        with self._changed:
            waiting = self._pause_after is not None and len(self._messages) >= self._pause_after
        if waiting:
            self.paused.set()
        return waiting

    def take_fault(self) -> tuple[int, str] | None:
        with self._changed:
            return self._faults.pop(0) if self._faults else None


class _Handler:
    def __init__(self, store: MailStore, token_check=None):
        self.store = store
        self.token_check = token_check

    async def auth_XOAUTH2(self, server, args):
        """XOAUTH2 (Google's and Microsoft's SASL mechanism): ``user=...^Aauth=Bearer ...``,
        the token checked by ``token_check(user, token)`` (the OAuth sandbox)."""
        from aiosmtpd.smtp import AuthResult, LoginPassword

        try:
            fields = dict(item.split("=", 1) for item in base64.b64decode(
                args[1]).decode().split("\x01") if "=" in item)
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (IndexError, ValueError, KeyError):
            return AuthResult(success=False, handled=False,
                              message="501 5.5.2 Cannot decode the XOAUTH2 response")
        if self.token_check is None or not self.token_check(user, token):
            return AuthResult(success=False, handled=False,
                              message="535 5.7.8 Username and Password not accepted")
        return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))

    async def handle_DATA(self, server, session, envelope):
        while self.store.must_wait():
            await asyncio.sleep(0.02)
        if self.store.answer_delay:
            await asyncio.sleep(self.store.answer_delay)
        fault = self.store.take_fault()
        if fault:
            return f"{fault[0]} {fault[1]}"
        login = session.auth_data.login if session.authenticated else b""
        self.store.add(envelope.mail_from, envelope.rcpt_tos, envelope.original_content
                       or envelope.content, auth_user=_text(login))
        return "250 2.0.0 OK: queued"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


class _Authenticator:
    """Checks PLAIN/LOGIN credentials against ``accounts`` at each AUTH (so a password
    changed by a test takes effect on the next login)."""

    def __init__(self, accounts: dict[str, str]):
        self.accounts = accounts

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = _text(auth_data.login), _text(auth_data.password)
        ok = login in self.accounts and self.accounts[login] == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None,
                          message=None if ok else "535 5.7.8 Authentication credentials invalid")


def _smtp(handler, auth: dict) -> SMTP:
    with warnings.catch_warnings():
        # AUTH without TLS: a loopback sandbox, on purpose.
        warnings.simplefilter("ignore", UserWarning)
        return SMTP(handler, hostname="mailcapture.local", ident="Sales Actions mail capture",
                    enable_SMTPUTF8=True, data_size_limit=0, **auth)


class SmtpSink:
    """aiosmtpd on its own event loop thread; ``port`` 0 asks the OS for a free one. With
    ``accounts`` it requires AUTH."""

    def __init__(self, store: MailStore, host: str = "127.0.0.1", port: int = 0,
                 accounts: dict[str, str] | None = None, token_check=None):
        self.store, self.host, self.port = store, host, port
        self.accounts = accounts
        self.token_check = token_check
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = None

    def start(self) -> SmtpSink:
        ready = threading.Event()
        failure = []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                auth = ({"authenticator": _Authenticator(self.accounts), "auth_required": True,
                         "auth_require_tls": False} if self.accounts is not None else {})
                self._server = self._loop.run_until_complete(self._loop.create_server(
                    lambda: _smtp(_Handler(self.store, self.token_check), auth), self.host,
                    self.port))
            except Exception as error:  # noqa: BLE001 - reported to start()
                failure.append(error)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="mailcapture-smtp", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        async def shutdown():
            self._server.close()
            sessions = [task for task in asyncio.all_tasks()
                        if task is not asyncio.current_task()]
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def _page(title: str, body: str) -> Response:
    return Response(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
        "padding:.4em;text-align:left;vertical-align:top}pre{white-space:pre-wrap;"
        "background:#f6f6f6;padding:1em}</style></head><body>"
        f"{body}</body></html>", content_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                            "img-src 'self' data:"})


class CaptureWeb:
    """The capture's web page (WSGI): ``/`` lists, ``/messages/<id>/`` shows one; for
    scripts ``/api/messages`` (GET, DELETE), ``/api/messages/<id>``, ``/api/count`` and
    ``/api/stats`` (count, duplicate Message-IDs, first and last arrival)."""

    def __init__(self, store: MailStore):
        self.store = store

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/api/stats":
            messages = self.store.messages()
            ids = Counter(m.header("Message-ID") for m in messages)
            return Response(json.dumps({
                "count": len(messages), "duplicates": sum(n - 1 for n in ids.values() if n > 1),
                "first": messages[0].received_at.timestamp() if messages else None,
                "last": messages[-1].received_at.timestamp() if messages else None}),
                content_type="application/json")
        if path == "/api/count":
            return Response(json.dumps({"count": len(self.store.messages())}),
                            content_type="application/json")
        if path == "/api/messages":
            if request.method == "DELETE":
                self.store.clear()
                return Response(status=204)
            return Response(json.dumps([m.summary() for m in self.store.messages()]),
                            content_type="application/json")
        if path.startswith("/api/messages/") or path.startswith("/messages/"):
            try:
                message = self.store.get(int(path.rsplit("/", 1)[1]))
            except ValueError:
                message = None
            if message is None:
                return Response("not found", status=404)
            if path.startswith("/api/"):
                return Response(json.dumps(message.detail()), content_type="application/json")
            return self.message_page(message)
        if path == "/":
            return self.list_page()
        return Response("not found", status=404)

    def list_page(self) -> Response:
        rows = "".join(
            f"<tr><td>{m.received_at:%H:%M:%S}</td>"
            f"<td><a href='/messages/{m.id}/'>{html.escape(m.header('Subject') or '(none)')}</a>"
            f"</td><td>{html.escape(m.header('From'))}</td>"
            f"<td>{html.escape(', '.join(m.rcpt_tos))}</td></tr>"
            for m in reversed(self.store.messages()))
        return _page("Mail capture", "<h1>Mail capture</h1><p>Every message the app sent "
                     "while it ran with this capture as its mail server, newest first.</p>"
                     "<table><thead><tr><th>Received</th><th>Subject</th><th>From</th>"
                     f"<th>To</th></tr></thead><tbody>{rows}</tbody></table>"
                     + ("" if rows else "<p class='empty'>No messages yet.</p>"))

    def message_page(self, message: Captured) -> Response:
        detail = message.detail()
        headers = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(v)}</td></tr>"
                          for n, v in detail["headers"])
        return _page(detail["subject"] or "Message", (
            f"<p><a href='/'>All messages</a></p><h1>{html.escape(detail['subject'])}</h1>"
            f"<h2>Headers</h2><table class='headers'>{headers}</table>"
            f"<h2>Plain text</h2><pre class='text'>{html.escape(detail['text'])}</pre>"
            f"<h2>HTML (source)</h2><pre class='html'>{html.escape(detail['html'])}</pre>"))


class MailCapture:
    """The SMTP sink and its web page together."""

    def __init__(self, host: str = "127.0.0.1", smtp_port: int = 0, http_port: int = 0,
                 accounts: dict[str, str] | None = None, answer_delay_ms: float = 0):
        self.store = MailStore(answer_delay_ms)
        self.smtp = SmtpSink(self.store, host, smtp_port, accounts)
        self.host, self.http_port = host, http_port
        self.web = None

    def start(self, web: bool = True) -> MailCapture:
        self.smtp.start()
        if web:
            self.web = serve_in_thread(CaptureWeb(self.store), self.host, self.http_port)
        return self

    def stop(self) -> None:
        self.smtp.stop()
        if self.web:
            self.web.shutdown()

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def email_url(self) -> str:
        return f"smtp://{self.host}:{self.smtp.port}"

    @property
    def url(self) -> str:
        return self.web.url if self.web else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--account", action="append", default=[],
                        help="username:password (repeatable): require AUTH, as a submission "
                             "server does")
    parser.add_argument("--answer-delay-ms", type=float, default=0,
                        help="wait this long before answering each message's DATA")
    args = parser.parse_args()
    accounts = dict(pair.partition(":")[::2] for pair in args.account) or None
    capture = MailCapture(args.host, args.smtp_port, args.http_port, accounts,
                          args.answer_delay_ms).start()
    print(f"mail capture: SMTP {capture.email_url}, messages at {capture.url}", flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        capture.stop()


if __name__ == "__main__":
    main()
