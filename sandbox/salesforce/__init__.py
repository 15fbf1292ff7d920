"""Salesforce REST API sandbox: ``SalesforceSandbox`` is a WSGI app (see ``app.py``)."""

from sandbox.salesforce.app import SalesforceSandbox

__all__ = ["SalesforceSandbox"]
