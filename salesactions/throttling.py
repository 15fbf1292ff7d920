"""API throttles, shared by every endpoint (``DEFAULT_THROTTLE_CLASSES``) and by costly ones
(:class:`ScopedUserThrottle`). Rates come from the environment through settings
(``API_THROTTLE_USER``, ``API_THROTTLE_ANON``, ``API_THROTTLE_MARKETO_ACTIVITIES``; README
"Configuration"). Apart from ``salesactions.api``: DRF imports these while building its views.
"""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework import throttling

log = logging.getLogger(__name__)


class _EnvRateThrottle:
    """A rate from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`` (settings read them from
    the environment: ``API_THROTTLE_*``), looked up at each request so a test's
    ``override_settings`` applies. A 429 carries ``Retry-After`` (DRF's ``Throttled``)."""

    def get_rate(self):
        from rest_framework.settings import api_settings

        rates = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_THROTTLE_RATES") \
            or api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope)

    def allow_request(self, request, view):
        """Counts live in the cache (Redis in production). With the cache down the request is
        let through unthrottled: a throttle guards the server, and failing every API request
        for the length of a Redis restart would do more harm than a minute without rates
        (bench/soak.py found each request answering 500 meanwhile)."""
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache backend's connection error
            log.warning("cache unavailable: %s not throttled", request.path, exc_info=True)
            return True


class UserThrottle(_EnvRateThrottle, throttling.UserRateThrottle):
    """Every API request of a signed-in user (``API_THROTTLE_USER``)."""

    scope = "user"


class AnonThrottle(_EnvRateThrottle, throttling.AnonRateThrottle):
    """Every API request without a login, per address (``API_THROTTLE_ANON``)."""

    scope = "anon"


class ScopedUserThrottle(_EnvRateThrottle, throttling.UserRateThrottle):
    """Per user, for one costly kind of request, on top of :class:`UserThrottle`: a subclass
    names its ``scope``, whose rate is in ``DEFAULT_THROTTLE_RATES`` (e.g. the live Marketo
    panel, ``API_THROTTLE_MARKETO_ACTIVITIES``). Views list it with the defaults::

        throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, MyThrottle]
    """

    scope = ""
