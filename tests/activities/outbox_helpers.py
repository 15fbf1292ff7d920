"""Helpers for the calls and outbox tests: reading the sandboxes, and the Celery broker."""

from contextlib import contextmanager


def record_flush_enqueues(monkeypatch) -> list[str]:
    """Record the targets of flushes the code enqueues, instead of publishing them; the test
    then runs each as the worker that takes the message would."""
    from syncing.tasks import deliveries_flush_task

    targets: list[str] = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: targets.append(args[0]))
    return targets


@contextmanager
def broker_down():
    """Point the Celery app at a broker nobody listens on, as when Redis is down."""
    from salesactions.celery import app

    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def sandbox_records(control, sobject: str = "Task") -> list[dict]:
    """Every record of a type the Salesforce sandbox stores (created ones included)."""
    return control.call("GET", f"records/{sobject}")["records"]


def endpoint_calls(control, fragment: str, method: str = "POST") -> int:
    """How many API requests the sandbox counted on endpoints containing ``fragment``."""
    counts = control.counters()["by_endpoint"]
    return sum(n for endpoint, n in counts.items()
               if endpoint.startswith(method + " ") and fragment in endpoint)


def marketo_call_activities(control, marketo_id: int) -> list[dict]:
    """The custom activities the Marketo sandbox logged for a lead."""
    return control.call("GET", "custom-activities", leadId=marketo_id)["result"]
