"""A worker process freezes what it holds once started (``salesactions/celery.py``)."""

import gc

from celery.signals import worker_process_init


def test_a_started_worker_process_freezes_its_startup_objects():
    gc.unfreeze()
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
