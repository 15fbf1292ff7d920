"""The review queue: campaign email steps without ``auto_send`` wait here for the seller who
added the person, who edits and sends them or skips them. Either way the member moves on to
the next step (due at its day offset, or at once when that is already past)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User

from . import clock
from .models import CampaignMember, MemberStep
from .scheduler import _advance, email_step_send
from .services import _members_end

SUBJECT_MAX = 255


def review_items_for(user: User):
    """The user's waiting review items (an admin's: everyone's), oldest first."""
    items = (MemberStep.objects.filter(result=MemberStep.Result.REVIEW,
                                       member__status=CampaignMember.Status.REVIEW)
             .select_related("member__person", "member__campaign", "member__added_by")
             .order_by("ran_at", "id"))
    return items if user.is_admin else items.filter(member__added_by=user)


def _locked(item: MemberStep, by: User) -> MemberStep:
    item = (MemberStep.objects.select_for_update(of=("self",))
            .select_related("member__person", "member__campaign", "member__added_by")
            .get(pk=item.pk))
    if not (by.is_admin or item.member.added_by_id == by.pk):
        raise PermissionDenied(_("This email waits in another seller's review queue."))
    if (item.result != MemberStep.Result.REVIEW
            or item.member.status != CampaignMember.Status.REVIEW):
        raise ValidationError(_("This email was already sent or skipped."))
    return item


def _move_on(item: MemberStep) -> None:
    member = item.member
    steps = list(member.campaign.steps.all())
    now = clock.now()
    _advance(member, steps, item.position + 1, now)
    if member.status == CampaignMember.Status.ENDED:
        member.status = CampaignMember.Status.REVIEW
        _members_end([member], CampaignMember.EndReason.COMPLETED, now)
        return
    if member.campaign.status != member.campaign.Status.ACTIVE:
        member.held_due_at, member.next_step_due_at = member.next_step_due_at, None
    member.save(update_fields=["status", "next_position", "next_step_due_at", "held_due_at"])


def review_send(item: MemberStep, *, by: User, subject: str, body: str) -> MemberStep:
    subject, body = (subject or "").strip(), (body or "").strip()
    errors = {}
    if not subject:
        errors["subject"] = [_("Give the email a subject.")]
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = [ngettext("At most %(count)d character.",
                                       "At most %(count)d characters.",
                                       SUBJECT_MAX) % {"count": SUBJECT_MAX}]
    if not body:
        errors["body"] = [_("Write the email.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        item = _locked(item, by)
        item.subject, item.body, item.ran_at = subject, body, clock.now()
        email_step_send(item.member, item, subject=subject, body=body)
        if item.result == MemberStep.Result.REFUSED:
            transaction.set_rollback(True)
            raise ValidationError({"body": [item.detail]})
        item.save()
        _move_on(item)
    return item


def review_skip(item: MemberStep, *, by: User) -> MemberStep:
    with transaction.atomic():
        item = _locked(item, by)
        item.result, item.ran_at, item.detail = (MemberStep.Result.SKIPPED, clock.now(),
                                                 "Skipped in the review queue.")
        item.save()
        _move_on(item)
    return item
