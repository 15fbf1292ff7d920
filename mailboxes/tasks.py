"""Celery tasks: thin shells around the mailbox services."""
