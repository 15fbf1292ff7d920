"""System checks of our own; ``manage.py check --deploy`` fails on them (errors, not warnings).

Django's own ``security.W009`` only warns about a weak ``SECRET_KEY``, and ``check --deploy``
passes with warnings; a key that can sign links to any site must fail the deploy check.
"""

from django.conf import settings
from django.core import checks

from salesactions.secret_key import HOW_TO_SET, secret_key_weakness


@checks.register(checks.Tags.security, deploy=True)
def secret_keys_strong(app_configs, **kwargs):
    errors = []
    weakness = secret_key_weakness(settings.SECRET_KEY)
    if weakness:
        errors.append(checks.Error(
            f"{weakness}: anyone who knows it can sign tracking and unsubscribe links.",
            hint=HOW_TO_SET + ".", id="salesactions.E001"))
    for position, fallback in enumerate(settings.SECRET_KEY_FALLBACKS, start=1):
        weakness = secret_key_weakness(fallback)
        if weakness:
            errors.append(checks.Error(
                f"SECRET_KEY_FALLBACKS entry {position}: "
                f"{weakness.removeprefix('SECRET_KEY ')}; links signed with it are accepted.",
                hint="Remove it from SECRET_KEY_FALLBACKS.", id="salesactions.E002"))
    return errors
