"""What the Marketo and Salesforce clients share: one error type that says whether to retry."""

from __future__ import annotations


class TransportError(Exception):
    """A call to a remote API failed.

    ``code`` and ``message`` are the remote system's own (e.g. Marketo ``"606"``, Salesforce
    ``"UNABLE_TO_LOCK_ROW"``) so the UI can show them verbatim. ``permanent`` tells the caller
    whether retrying the same call can ever succeed (bad credentials, invalid field) or not.
    """

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message
