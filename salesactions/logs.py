"""Logging filters for the project's LOGGING (``salesactions/settings.py``)."""

from __future__ import annotations

import logging


class ForbiddenOneLine(logging.Filter):
    """A 403 is an answer, not a fault: Django logs it with the exception's traceback; keep
    one line that says why, for whom and where."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            reason = str(record.exc_info[1]) or "Permission denied"
            request = getattr(record, "request", None)
            user = getattr(getattr(request, "user", None), "username", "") or "anonymous"
            record.msg = "Forbidden (%s) for %s: %s"
            record.args = (reason, user, request.path if request is not None else "?")
            record.exc_info = record.exc_text = None
        return True
