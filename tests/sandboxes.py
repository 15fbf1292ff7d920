"""What tests share about the sandboxes: their credentials and an unthrottled control."""

from sandbox.control import SandboxControl

MARKETO_CLIENT_ID = "sandbox-marketo-client"
MARKETO_CLIENT_SECRET = "sandbox-marketo-secret"
SALESFORCE_CLIENT_ID = "sandbox-salesforce-client"
SALESFORCE_CLIENT_SECRET = "sandbox-salesforce-secret"


class UnthrottledSandbox(SandboxControl):
    """A sandbox whose resets keep rate limits out of the way of tests that are not about them
    (the limits and the client's limiter have tests of their own)."""

    LIMITS = {"rate_limit_calls": 100_000, "daily_quota": 10_000_000}

    def reset(self, **config) -> dict:
        return super().reset(**(self.LIMITS | config))
