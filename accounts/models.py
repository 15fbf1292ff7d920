from functools import cached_property
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .validators import validate_language, validate_time_zone


class User(AbstractUser):
    """A seller or an admin. Sellers own people whose Marketo lead owner email is theirs."""

    class Role(models.TextChoices):
        SELLER = "seller", _("Seller")
        ADMIN = "admin", _("Admin")

    role = models.CharField(max_length=10, choices=Role.choices, default=Role.SELLER)
    # Where "today" is for this user's task queue; blank follows the server's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    # The language of this user's pages (a code of settings.LANGUAGES); blank follows the
    # browser's Accept-Language (salesactions/i18n.py). Not choices: a language added to
    # settings needs no migration.
    language = models.CharField(max_length=16, blank=True, validators=[validate_language])
    # Plain text added to each sales email after the body, before the unsubscribe footer.
    signature = models.TextField(blank=True, max_length=2000)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @cached_property
    def zone(self) -> ZoneInfo:
        """The user's time zone (the server's when none is set)."""
        return ZoneInfo(self.time_zone or settings.TIME_ZONE)

    def __str__(self) -> str:
        return self.get_full_name() or self.username
