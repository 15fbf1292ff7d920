"""Campaign pages: the list, the editor (steps reordered with up/down buttons), the review
queue, bulk add from the people list, and the person page's panel.

Plain forms that post and redirect (no inline script; a CSP is coming): every page works
without JavaScript; the person panel is loaded with an htmx attribute like the others. A form
the services refuse comes back with what the seller typed and the errors beside its fields
(400), never a redirect to an empty form.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from emails.views import preview_response
from people.models import Person
from people.selection import people_selection
from people.selectors import person_list

from .models import Campaign, CampaignStep, MemberStep
from .review import review_items_for, review_send, review_skip
from .selectors import (
    bulk_add_preview,
    campaign_list_for_user,
    campaign_members,
    campaign_step_results,
    campaign_summaries,
    campaigns_step_results,
    campaigns_to_add_to,
    person_memberships,
)
from .services import (
    DAY_RANGE,
    MAX_DAY_OFFSET,
    MERGE_FIELDS,
    STEP_FIELDS,
    WINDOW_END_RANGE,
    WINDOW_START_RANGE,
    AddReport,
    campaign_create,
    campaign_status_set,
    campaign_update,
    can_change,
    member_remove,
    members_add,
    step_change,
    step_delete,
    step_insert,
    step_move,
)

MEMBERS_SHOWN = 200
# The campaign page holds the settings form and the add-step form: ids must not clash.
SETTINGS_IDS = "settings_%s"
LIST_SHOWN = 200
# Weekdays as Django's own catalogs abbreviate them ("Mon", "lun.", "周一"), Monday first.
DAYS = [(str(day), WEEKDAYS_ABBR[day]) for day in range(7)]


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=255, label=gettext_lazy("Name"))
    shared = forms.BooleanField(required=False, label=gettext_lazy("Shared with other sellers"))
    window_enabled = forms.BooleanField(
        required=False, label=gettext_lazy("Send emails only inside a sending window"))
    window_days = forms.MultipleChoiceField(choices=DAYS, required=False,
                                            widget=forms.CheckboxSelectMultiple,
                                            label=gettext_lazy("Sending days"),
                                            initial=["0", "1", "2", "3", "4"])
    window_start_hour = forms.IntegerField(
        min_value=0, max_value=23, initial=9, label=gettext_lazy("Opens at (hour)"),
        error_messages={key: WINDOW_START_RANGE for key in ("min_value", "max_value", "invalid")})
    window_end_hour = forms.IntegerField(
        min_value=1, max_value=24, initial=17, label=gettext_lazy("Closes at (hour)"),
        error_messages={key: WINDOW_END_RANGE for key in ("min_value", "max_value", "invalid")})

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["window_days"] = "".join(sorted(data["window_days"])) or "01234"
        return data


class StepForm(forms.Form):
    type = forms.ChoiceField(choices=CampaignStep.Type.choices,
                             label=gettext_lazy("Type"))
    day_offset = forms.IntegerField(
        min_value=0, max_value=MAX_DAY_OFFSET, initial=0,
        label=gettext_lazy("Day (after the person is added)"),
        error_messages={key: DAY_RANGE for key in ("required", "min_value", "max_value",
                                                   "invalid")})
    subject = forms.CharField(max_length=255, required=False, label=gettext_lazy("Subject"))
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}),
                           label=gettext_lazy("Body"))
    auto_send = forms.BooleanField(required=False,
                                   label=gettext_lazy("Send automatically (else: review queue)"))
    name = forms.CharField(max_length=255, required=False, label=gettext_lazy("Task name"))
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              label=gettext_lazy("Details"))


def _campaign(request, pk: int) -> Campaign:
    return get_object_or_404(campaign_list_for_user(request.user), pk=pk)


def _errors_to_messages(request, error: ValidationError) -> None:
    """Errors with no form to sit beside (status changes, review actions); the services'
    messages are sentences that name what they are about."""
    for message in error.messages:
        messages.error(request, message)


def _errors_to_form(form: forms.Form, error: ValidationError) -> None:
    for name, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)


def _back(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


@require_GET
def campaign_list(request):
    campaigns = list(campaign_summaries(campaign_list_for_user(request.user))[:LIST_SHOWN])
    results = campaigns_step_results(campaigns)
    for campaign in campaigns:
        campaign.step_results = results[campaign.pk]
    return render(request, "campaigns/list.html", {
        "campaigns": campaigns, "section": "campaigns",
        "review_count": review_items_for(request.user).count()})


@require_http_methods(["GET", "POST"])
def campaign_new(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(owner=request.user, **form.values())
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, _("Campaign created. Add its steps, then start it."))
            return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/new.html", {"form": form, "section": "campaigns"},
                  status=400 if form.errors else 200)


def _detail(request, campaign: Campaign, *, form: CampaignForm | None = None,
            step_form: StepForm | None = None):
    """The campaign page; a bound form that was refused comes back as typed (400)."""
    campaign.refresh_from_db()
    members = list(campaign_members(campaign)[:MEMBERS_SHOWN])
    editable = can_change(request.user, campaign)
    settings_form = form or CampaignForm(auto_id=SETTINGS_IDS, initial={
        "name": campaign.name, "shared": campaign.shared,
        "window_enabled": campaign.window_enabled, "window_days": list(campaign.window_days),
        "window_start_hour": campaign.window_start_hour,
        "window_end_hour": campaign.window_end_hour})
    return render(request, "campaigns/detail.html", {
        "campaign": campaign, "editable": editable, "form": settings_form,
        "step_form": step_form or StepForm(), "results": campaign_step_results(campaign),
        "members": members, "members_more": len(members) == MEMBERS_SHOWN,
        "section": "campaigns", "merge_fields": MERGE_FIELDS,
        "window_days_text": ", ".join(str(label) for value, label in DAYS
                                      if value in campaign.window_days)},
        status=400 if form is not None or step_form is not None else 200)


@require_GET
def campaign_detail(request, pk: int):
    return _detail(request, _campaign(request, pk))


@require_POST
def campaign_edit(request, pk: int):
    campaign = _campaign(request, pk)
    form = CampaignForm(request.POST, auto_id=SETTINGS_IDS)
    if form.is_valid():
        try:
            campaign_update(campaign, by=request.user, **form.values())
        except ValidationError as error:
            _errors_to_form(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:detail", campaign.pk)
    return _detail(request, campaign, form=form)


@require_POST
def campaign_status(request, pk: int):
    campaign = _campaign(request, pk)
    try:
        campaign = campaign_status_set(campaign, request.POST.get("status", ""), by=request.user)
        messages.success(request, _STATUS_SET.get(campaign.status, _STATUS_SET["active"])())
    except ValidationError as error:
        _errors_to_messages(request, error)
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("campaigns:detail", campaign.pk)


#: The flash after a status change, one sentence per status (languages agree the participle).
_STATUS_SET = {
    Campaign.Status.DRAFT: lambda: _("The campaign is draft."),
    Campaign.Status.ACTIVE: lambda: _("The campaign is active."),
    Campaign.Status.PAUSED: lambda: _("The campaign is paused."),
    Campaign.Status.ARCHIVED: lambda: _("The campaign is archived."),
}


def _step_values(form: StepForm) -> dict:
    return {name: form.cleaned_data[name] for name in STEP_FIELDS}


@require_POST
def step_add(request, pk: int):
    """Add a step in its day's place (after the steps on the same or earlier days)."""
    campaign = _campaign(request, pk)
    form = StepForm(request.POST)
    if form.is_valid():
        try:
            step_insert(campaign, _step_values(form), by=request.user)
        except ValidationError as error:
            _errors_to_form(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Step added."))
            return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#steps")
    return _detail(request, campaign, step_form=form)


@require_http_methods(["GET", "POST"])
def step_edit(request, pk: int, step_id: int):
    campaign = _campaign(request, pk)
    step = get_object_or_404(campaign.steps, pk=step_id)
    if not can_change(request.user, campaign):
        raise Http404(_("Not your campaign."))
    form = StepForm(request.POST or None, initial={
        name: getattr(step, name) for name in StepForm.base_fields})
    if request.method == "POST" and form.is_valid():
        try:
            step_change(campaign, step, _step_values(form), by=request.user)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, _("Step saved."))
            return redirect("campaigns:detail", campaign.pk)
    return render(request, "campaigns/step_edit.html", {
        "campaign": campaign, "step": step, "form": form, "section": "campaigns",
        "merge_fields": MERGE_FIELDS}, status=400 if form.errors else 200)


@require_POST
def step_action(request, pk: int, step_id: int):
    campaign = _campaign(request, pk)
    step = get_object_or_404(campaign.steps, pk=step_id)
    action = request.POST.get("action")
    try:
        if action in ("up", "down"):
            step_move(campaign, step, by=request.user, up=action == "up")
        elif action == "delete":
            step_delete(campaign, step, by=request.user)
            messages.success(request, _("Step deleted."))
    except ValidationError as error:
        _errors_to_messages(request, error)
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#steps")


@require_POST
def member_remove_view(request, pk: int, person_id: int):
    campaign = _campaign(request, pk)
    person = get_object_or_404(Person, pk=person_id)
    try:
        ended = member_remove(campaign, person, by=request.user)
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        if ended:
            messages.success(request, _("%(person)s was removed from %(campaign)s.") % {
                "person": person, "campaign": campaign.name})
    return redirect(_back(request, reverse("campaigns:detail", args=[campaign.pk])))


@require_POST
def person_add(request, person_id: int):
    """Add one person (from the person page's panel) to a campaign."""
    person = get_object_or_404(Person.workspace, pk=person_id)
    campaign = get_object_or_404(campaigns_to_add_to(request.user),
                                 pk=request.POST.get("campaign") or 0)
    try:
        report = members_add(campaign, [person.pk], by=request.user)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, "; ".join(getattr(error, "messages", [str(error)])))
    else:
        if report.added:
            messages.success(request, _("Added to %(campaign)s.") % {"campaign": campaign.name})
        else:
            messages.warning(request, _("Not added: %(summary)s.") % {
                "summary": report.summary()})
    return redirect(reverse("people:detail", args=[person.pk]) + "#campaigns")


@require_GET
def person_panel(request, person_id: int):
    person = get_object_or_404(Person.workspace, pk=person_id)
    memberships = person_memberships(person, request.user)
    live = {m.campaign_id for m in memberships if m.is_live}
    return render(request, "campaigns/partials/person_panel.html", {
        "person": person, "memberships": memberships,
        "campaigns": [c for c in campaigns_to_add_to(request.user) if c.pk not in live]})


@require_http_methods(["GET", "POST"])
def bulk_add(request):
    """Add the people picked on the people list, or everyone matching its filters (not only
    the page shown): a preview with the counts first, then the add."""
    params = request.POST if request.method == "POST" else request.GET
    selection = people_selection(params, request.user)
    people = person_list(selection.criteria)
    campaigns = list(campaigns_to_add_to(request.user))
    chosen = next((c for c in campaigns if str(c.pk) == params.get("campaign")), None)
    preview = bulk_add_preview(chosen, people) if chosen else None
    report: AddReport | None = None
    if request.method == "POST" and chosen:
        try:
            report = members_add(chosen, preview.people_ids, by=request.user)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, "; ".join(getattr(error, "messages", [str(error)])))
        else:
            skipped = sum(preview.skipped.values()) + report.skipped_total
            messages.success(request, ngettext(
                "%(added)d added to %(campaign)s; %(skipped)d skipped.",
                "%(added)d added to %(campaign)s; %(skipped)d skipped.", len(report.added)) % {
                "added": len(report.added), "campaign": chosen.name, "skipped": skipped})
            return redirect("campaigns:detail", chosen.pk)
    return render(request, "campaigns/bulk_add.html", {
        "campaigns": campaigns, "chosen": chosen, "preview": preview, "selection": selection,
        "list_query": urlencode(selection.filters),
        "skip_labels": AddReport.SKIP_REASONS, "section": "campaigns"})


def _review_page(request, refused: MemberStep | None = None, typed: dict | None = None,
                 errors: dict | None = None):
    """The queue; an item whose send was refused shows what the seller typed and why."""
    items = list(review_items_for(request.user)[:100])
    if refused is not None and refused not in items:
        items.insert(0, refused)
    for item in items:
        item.form_subject, item.form_body, item.errors = item.subject, item.body, {}
        if refused is not None and item.pk == refused.pk:
            item.form_subject, item.form_body = typed["subject"], typed["body"]
            item.errors = {"other": []}
            for name, problems in errors.items():
                item.errors.setdefault(name if name in ("subject", "body") else "other",
                                       []).extend(problems)
    return render(request, "campaigns/review.html", {
        "items": items, "section": "campaigns", "merge_fields": MERGE_FIELDS},
        status=400 if refused is not None else 200)


@require_GET
def review_queue(request):
    return _review_page(request)


@require_POST
def review_preview(request, item_id: int):
    """A review item's subject and body, as edited, merged for its person as its seller (the
    one whose campaign queued it, whose signature it carries) sends them, whoever reviews."""
    item = get_object_or_404(review_items_for(request.user), pk=item_id)
    member = item.member
    return preview_response(request, member.person, sender=member.added_by,
                            extra={"sales_campaign_name": member.campaign.name})


@require_POST
def review_action(request, item_id: int):
    item = get_object_or_404(review_items_for(request.user), pk=item_id)
    typed = {"subject": request.POST.get("subject", ""), "body": request.POST.get("body", "")}
    try:
        if request.POST.get("action") == "skip":
            review_skip(item, by=request.user)
            messages.success(request, _("Skipped; the next step follows."))
        else:
            item = review_send(item, by=request.user, **typed)
            if item.result == MemberStep.Result.HELD:
                sent = _("Email to %(person)s held (Marketo could not answer; it goes when it "
                         "can).")
            else:
                sent = _("Email to %(person)s queued to send.")
            messages.success(request, sent % {"person": item.member.person})
    except ValidationError as error:
        if request.POST.get("action") == "skip" or not hasattr(error, "error_dict"):
            _errors_to_messages(request, error)
        else:
            return _review_page(request, item, typed, error.message_dict)
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("campaigns:review")

