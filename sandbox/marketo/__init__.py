"""The Marketo REST API sandbox (see ``app.py``); ``python -m sandbox.marketo`` runs it alone."""

from .app import MarketoSandbox

__all__ = ["MarketoSandbox"]
