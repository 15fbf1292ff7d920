"""Reads: the emails a user may see, templates they may use, sending health."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import EmailEvent, EmailTemplate, SalesEmail


def email_list_for_user(user) -> QuerySet[SalesEmail]:
    """The emails ``user`` may see, newest first: a seller the ones they sent, an admin all."""
    emails = SalesEmail.objects.all() if user.is_admin else SalesEmail.objects.filter(sender=user)
    return emails.select_related("sender", "person").prefetch_related(
        Prefetch("events", queryset=EmailEvent.objects.order_by("at", "id")))


def template_list_for_user(user) -> QuerySet[EmailTemplate]:
    """Templates ``user`` may use: shared ones and their own."""
    return EmailTemplate.objects.filter(Q(shared=True) | Q(owner=user)).select_related("owner")


def email_status_counts() -> dict[str, int]:
    """Emails per status (the health page's ``email_sending`` stream)."""
    return dict(SalesEmail.objects.values_list("status").annotate(n=Count("id"))
                .values_list("status", "n"))


def email_last_error() -> SalesEmail | None:
    """The latest email that failed or is waiting to retry after an error."""
    return (SalesEmail.objects.exclude(error="").order_by("-updated_at", "-id").first())
