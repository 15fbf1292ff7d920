"""Reading ahead of the database: a thread fetches from Marketo while the caller writes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from django.db import connections

_DONE = object()


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a thread of its own, ``depth`` items ahead of the consumer."""
    for ready in read_ahead(items, depth, most=1):
        yield from ready


def read_ahead(items: Iterator, depth: int, most: int) -> Iterator[list]:
    """Iterate ``items`` in a thread of its own, up to ``depth`` items ahead of the consumer,
    handing over at each step the items read so far: at least one, at most ``most``.

    The producer's exceptions surface in the consumer, after the items read before them; a
    consumer that stops early (or fails) makes the producer stop at its next item.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def offer(entry: tuple) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((_DONE, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer((_DONE, error))
        finally:
            # A reader that touched the database (a client hook, a lookup) leaves no
            # connection behind in this thread: it would outlive the pass (and, in tests,
            # keep the test database from being dropped).
            connections.close_all()

    producer = threading.Thread(target=produce, name="people-sync-reader", daemon=True)
    producer.start()
    try:
        while True:
            entries = [handoff.get()]
            while len(entries) < most and entries[-1][0] is not _DONE:
                try:
                    entries.append(handoff.get_nowait())
                except queue.Empty:
                    break
            ready = [item for item, _ in entries if item is not _DONE]
            if ready:
                yield ready
            last, error = entries[-1]
            if error is not None:
                raise error
            if last is _DONE:
                return
    finally:
        stopped.set()
        producer.join(timeout=5)
