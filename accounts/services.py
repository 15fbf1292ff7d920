"""Writes for users."""

from django.db import transaction
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from .models import User


@transaction.atomic
def user_create(*, username: str, email: str, role: str, password: str | None = None,
                first_name: str = "", last_name: str = "") -> tuple[User, str]:
    """Create a user with ``role``; returns the user and the password (generated when not given).

    Admins are Django staff too, so they can reach Django's own tooling if it is ever enabled.
    """
    if role not in User.Role.values:
        raise ValueError(_("The role must be one of: %(roles)s.")
                         % {"roles": ", ".join(User.Role.values)})
    if User.objects.filter(username=username).exists():
        raise ValueError(_("The user “%(username)s” already exists.") % {"username": username})
    password = password or get_random_string(16)
    user = User(username=username, email=email, role=role, first_name=first_name,
                last_name=last_name, is_staff=role == User.Role.ADMIN)
    user.set_password(password)
    user.save()
    return user, password


def user_time_zone_set(user: User, time_zone: str) -> User:
    """Set where "today" is for ``user`` ("" follows the server's time zone)."""
    user.time_zone = time_zone
    user.full_clean(validate_unique=False, validate_constraints=False,
                    exclude=[f.name for f in User._meta.fields if f.name != "time_zone"])
    user.save(update_fields=["time_zone"])
    user.__dict__.pop("zone", None)
    return user


def user_language_set(user: User, language: str) -> User:
    """Set the language of ``user``'s pages ("" follows the browser's Accept-Language)."""
    user.language = language
    user.full_clean(validate_unique=False, validate_constraints=False,
                    exclude=[f.name for f in User._meta.fields if f.name != "language"])
    user.save(update_fields=["language"])
    return user


def user_name_set(user: User, *, first_name: str, last_name: str) -> User:
    """Set the name shown to colleagues and used as ``{{sender_name}}`` in emails."""
    user.first_name, user.last_name = first_name.strip(), last_name.strip()
    user.save(update_fields=["first_name", "last_name"])
    return user


def user_signature_set(user: User, signature: str) -> User:
    """Set the plain-text signature added to each sales email ``user`` sends (after the body,
    before the unsubscribe footer; see ``emails.services.body_signed``)."""
    signature = "\n".join(line.rstrip() for line in (signature or "").strip().splitlines())
    user.signature = signature
    user.full_clean(validate_unique=False, validate_constraints=False,
                    exclude=[f.name for f in User._meta.fields if f.name != "signature"])
    user.save(update_fields=["signature"])
    return user
