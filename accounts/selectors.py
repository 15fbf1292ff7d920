"""Reads of users."""

from __future__ import annotations

from salesactions.caching import cache_delete_quietly, cached_or_built

from .models import User

SELLER_CHOICES_KEY = "accounts:seller-choices"


def seller_choices() -> dict[str, str]:
    """Active sellers with an email, as ``{email lower-cased: "Name (email)"}`` in name order,
    for owner filters. Cached: every people page shows it, and users change rarely (any save
    or delete of a user drops the cached copy, see :func:`seller_choices_forget`)."""
    return cached_or_built(SELLER_CHOICES_KEY, 300, lambda: {
        seller.email.lower(): f"{seller.get_full_name() or seller.username} ({seller.email})"
        for seller in User.objects.filter(is_active=True, role=User.Role.SELLER)
        .exclude(email="").order_by("first_name", "last_name", "username")})


def seller_choices_forget(**kwargs) -> None:
    cache_delete_quietly(SELLER_CHOICES_KEY)
