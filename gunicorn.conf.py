"""Gunicorn's settings for the production shape (Dockerfile, docker-compose.yml) and the
benchmarks. Environment variables override: WEB_CONCURRENCY (worker processes),
GUNICORN_THREADS (threads per worker), GUNICORN_BIND.

Workers: two per core plus one, gunicorn's own advice: a request spends part of its time
waiting for PostgreSQL or Redis, and another process uses the core meanwhile.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
accesslog = "-"
# The app is imported once in the master and forked: workers start (and restart) at once
# instead of each importing Django, and share those pages of memory.
preload_app = True


def pre_fork(server, worker):
    """Move the preloaded app's objects out of the garbage collector's sight before a worker
    forks: they live as long as the process, yet each worker's full collections walked them,
    writing to every page holding one and so copying pages it shared with the master."""
    import gc

    from django.apps import apps

    # An app that sets Django up on its first request (a bench's) has nothing to import yet.
    if apps.ready:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - imports every view module (and theirs)
    gc.freeze()
