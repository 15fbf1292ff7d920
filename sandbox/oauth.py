"""A local OAuth2 provider standing in for Google and Microsoft 365 sign-in: the authorization
code flow with PKCE (S256), refresh tokens, and token introspection (RFC 7662) for Dovecot's
oauth2 passdb and the SMTP submission server, so XOAUTH2 logins are checked for real.

- ``GET /authorize``: signs in the account named by ``login_hint`` (or ``default_account``)
  at once — the consent screen a person would click through — and redirects to
  ``redirect_uri`` with ``code`` and ``state``;
- ``POST /token``: ``authorization_code`` (client secret, redirect URI and the PKCE verifier
  checked) or ``refresh_token``; answers ``access_token``, ``refresh_token``, ``expires_in``
  and an ``id_token`` (OpenID Connect; unsigned here) naming the address; errors are RFC 6749's
  ``{"error": ...}``;
- ``POST /introspect`` (``token=``): ``{"active": true, "username": ...}`` or
  ``{"active": false}``.

``revoke(account)`` ends every token of an account (the user removed the app's access), and
``expires_in`` makes access tokens short-lived, for tests of refreshing and of pausing.

``python -m sandbox.oauth --port 8030`` runs it alone.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .server import serve_in_thread

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


@dataclass
class _Grant:
    account: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str


class OAuthSandbox:
    """The provider's state (thread-safe) and its WSGI app."""

    def __init__(self, expires_in: int = 3600, default_account: str = ""):
        self.expires_in = expires_in
        self.default_account = default_account
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (account, expires at)
        self._refresh: dict[str, str] = {}  # token -> account
        self.token_requests = 0

    # ------------------------------------------------------------------------ for tests
    def revoke(self, account: str) -> None:
        with self._lock:
            for store in (self._access, self._refresh):
                for token in [t for t, value in store.items()
                              if (value[0] if isinstance(value, tuple) else value) == account]:
                    del store[token]

    def account_of(self, access_token: str) -> str | None:
        """The account an access token signs in, while it is valid."""
        with self._lock:
            found = self._access.get(access_token)
        if found is None or found[1] < time.time():
            return None
        return found[0]

    # ------------------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path.rstrip("/")
        if path == "/authorize" and request.method == "GET":
            response = self.authorize(request)
        elif path == "/token" and request.method == "POST":
            response = self.token(request)
        elif path == "/introspect" and request.method == "POST":
            account = self.account_of(request.form.get("token", ""))
            body = {"active": True, "username": account, "email": account} if account else {
                "active": False}
            response = _json(body)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("response_type") != "code" or args.get("client_id") not in self.clients:
            return Response("unknown client or response type", status=400)
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return Response("PKCE (S256) is required", status=400)
        account = args.get("login_hint") or self.default_account
        if not account:
            return Response("no account to sign in (login_hint)", status=400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(account, args["client_id"], args.get("redirect_uri", ""),
                                       args["code_challenge"], args.get("scope", ""))
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = request.form
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if self.clients.get(client_id) != secret or not secret:
            return _json({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                found = self._codes.pop(form.get("code", ""), None)
            if found is None or found.client_id != client_id or (
                    found.redirect_uri != form.get("redirect_uri")):
                return _json({"error": "invalid_grant"}, 400)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if challenge.decode() != found.challenge:
                return _json({"error": "invalid_grant",
                              "error_description": "PKCE verification failed"}, 400)
            account = found.account
            refresh = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh[refresh] = account
        elif grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            with self._lock:
                account = self._refresh.get(refresh)
            if account is None:
                return _json({"error": "invalid_grant",
                              "error_description": "Token has been expired or revoked."}, 400)
        else:
            return _json({"error": "unsupported_grant_type"}, 400)
        access = secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = (account, time.time() + self.expires_in)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in,
                "scope": "https://mail.google.com/", "id_token": _id_token(account)}
        if grant == "authorization_code":
            body["refresh_token"] = refresh
        return _json(body)


def _id_token(account: str) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return ".".join([part({"alg": "none"}), part({"email": account, "sub": account,
                                                  "iss": "sandbox"}), ""])


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json",
                    headers={"Cache-Control": "no-store"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8030)
    parser.add_argument("--account", default="", help="signed in when no login_hint is given")
    args = parser.parse_args()
    server = serve_in_thread(OAuthSandbox(default_account=args.account), port=args.port)
    print(f"OAuth2 sandbox at {server.url} (client {CLIENT_ID} / {CLIENT_SECRET})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
