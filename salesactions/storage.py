"""Static files with DEBUG off: hashed and compressed after ``collectstatic``, and still served
before it (or for a file added since) instead of a 500 on every page.

Whitenoise serves from the apps' and ``static/`` folders too (``WHITENOISE_USE_FINDERS``), and
``{% static %}`` falls back to the plain name when the manifest has no entry (no
``collectstatic`` yet): the page works, only without the far-future cache headers.
"""

from __future__ import annotations

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)


class ManifestFallbackStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False
    _warned = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            if not ManifestFallbackStaticFilesStorage._warned:
                ManifestFallbackStaticFilesStorage._warned = True
                log.warning("Static file %s is not collected; serving it unhashed. Run "
                            "`python manage.py collectstatic --noinput` for cached, "
                            "compressed static files.", name)
            return name
