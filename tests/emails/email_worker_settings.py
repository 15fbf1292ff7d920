"""Settings for the Celery workers the email worker tests start: the app's own, with a claim
that expires in seconds, so a killed worker's batch is taken over within the test."""

from salesactions.settings import *  # noqa: F403

EMAIL_CLAIM_SECONDS = 4
OUTBOX_RETRY_BASE_SECONDS = 0
OUTBOX_LINGER_SECONDS = 0
