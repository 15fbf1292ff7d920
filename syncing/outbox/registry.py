"""Who sends what: a sender per ``(target, kind)``, registered by the module that knows the
kind, so the outbox core imports no sender and no app.

A sender is ``send(batch: Batch) -> SenderResult``: it loads its records by
``delivery.record_id`` (``batch.record_ids()``), sends them, and returns an ``Outcome`` per
delivery. Modules that register senders are imported at start-up by ``syncing.apps`` (every
``senders`` module of a ``syncing`` sub-package); see "How to add an outbound kind" in
``syncing/outbox/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import Batch, SenderResult

    Sender = Callable[[Batch], SenderResult]

_senders: dict[tuple[str, str], Callable] = {}
_retry_hooks: dict[str, list[Callable[[], None]]] = {}


def sender(target: str, kind: str) -> Callable[[Sender], Sender]:
    """Decorator: register ``send`` as the sender of ``kind`` deliveries to ``target``."""

    def register(send: Sender) -> Sender:
        registered = _senders.get((target, kind))
        if registered is not None and registered is not send:
            raise ValueError(f"a sender for {kind!r} to {target!r} is already registered: "
                             f"{registered.__module__}.{registered.__qualname__}")
        _senders[(target, kind)] = send
        return send

    return register


def sender_for(target: str, kind: str) -> Sender | None:
    return _senders.get((target, kind))


def kinds_registered(target: str | None = None) -> list[str]:
    """The kinds with a sender (to ``target``, or to any target)."""
    return sorted({kind for (each, kind) in _senders if target in (None, each)})


def on_retry(target: str, hook: Callable[[], None]) -> None:
    """Run ``hook`` when an admin retries failed deliveries to ``target`` (e.g. forget what
    was learnt about the remote system, in case it was the cause)."""
    hooks = _retry_hooks.setdefault(target, [])
    if hook not in hooks:
        hooks.append(hook)


def retry_hooks(target: str) -> list[Callable[[], None]]:
    return list(_retry_hooks.get(target, ()))
