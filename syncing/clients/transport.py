"""What the Marketo and Salesforce clients share: one error type that says whether to retry,
and what a store of access tokens shared between processes answers to."""

from __future__ import annotations

import re
from typing import Protocol, TypeVar

import requests


class TransportError(Exception):
    """A call to a remote API failed.

    ``code`` and ``message`` are the remote system's own (e.g. Marketo ``"606"``, Salesforce
    ``"UNABLE_TO_LOCK_ROW"``) so the UI can show them verbatim. ``permanent`` tells the caller
    whether retrying the same call can ever succeed (bad credentials, invalid field) or not.
    ``unreached`` says, in a few words, why the remote system never answered ("connection
    refused", "the connection timed out"); empty when it did answer.
    """

    unreached = ""

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


E = TypeVar("E", bound=TransportError)


class TokenStore(Protocol):
    """Where processes share one access token (``shared_token.SharedToken``, in Redis)."""

    def get(self) -> tuple[str, float, dict] | None:
        """The kept token, the seconds it has left, and what came with it; or None."""

    def put(self, token: str, seconds: float, extra: dict | None = None) -> None:
        """Keep ``token`` for ``seconds``."""

    def drop(self, token: str) -> None:
        """Forget ``token`` (the remote rejected it) unless another has replaced it."""


def unreached_reason(exc: requests.RequestException) -> str:
    """Why a request got no answer, in a few words for a person (not urllib3's repr)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the secure (TLS) connection failed"
    text = str(exc)
    if "NameResolutionError" in text or "not known" in text or "getaddrinfo" in text:
        return "its host name could not be resolved"
    errno = re.search(r"\[Errno -?\d+\] ([^\"')\]]+)", text)
    if errno:
        return errno.group(1).strip().rstrip(".").lower()
    return "the connection failed"


def error_unreached(error: E, exc: requests.RequestException) -> E:
    """``error`` marked as a call the remote system never answered (``exc`` says why)."""
    error.unreached = unreached_reason(exc)
    return error
