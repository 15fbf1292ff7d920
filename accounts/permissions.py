"""Who may do what: admins manage connections and syncs; sellers work with people."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission


def admin_required(view):
    """Page decorator: 403 for anyone but an admin (login is already enforced globally)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.is_admin:
            raise PermissionDenied(_("Only admins can open this page."))
        return view(request, *args, **kwargs)

    return wrapped


class IsAdmin(BasePermission):
    message = gettext_lazy("Only admins can use this endpoint.")

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)
