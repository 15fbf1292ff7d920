"""The shape of ``GET /api/v1/sync/health/`` and ``manage.py sync_health --json``."""

from __future__ import annotations

from rest_framework import serializers

from .registry import Status


class HourBucketSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(help_text="Start of the hour (UTC).")
    throughput = serializers.IntegerField(help_text="Rows read or deliveries made that hour.")
    errors = serializers.IntegerField(help_text="Failed passes or failed attempts that hour.")
    lag_seconds = serializers.FloatField(
        allow_null=True, help_text="How far behind at the hour's end (periodic streams), or "
        "the longest a delivery attempted that hour had waited (deliveries); null: unknown.")


class QueueDepthSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Waiting for their first send, or sending.")
    retrying = serializers.IntegerField(help_text="Failed once or more, waiting to retry.")
    failed = serializers.IntegerField(help_text="Gave up; an admin retries them on "
                                                "Diagnostics.")


class StreamHealthSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The stream's stable name, e.g. reminder_tasks_in.")
    label = serializers.CharField()
    enabled = serializers.BooleanField(help_text="Switched on in the sync settings.")
    status = serializers.ChoiceField(
        choices=Status.CHOICES,
        help_text="ok, lagging, failing or paused; the thresholds are relative to the "
                  "stream's schedule (README, Sync health).")
    reason = serializers.CharField(help_text="Why it is not ok; empty when ok.")
    direction = serializers.ChoiceField(choices=["in", "out"],
                                        help_text="in: into the app; out: deliveries.")
    system = serializers.CharField(
        help_text="marketo or salesforce: the entry of api_budget this stream spends.")
    schedule_seconds = serializers.FloatField(
        allow_null=True, help_text="A pass every so many seconds (null: sent at once).")
    last_success_at = serializers.DateTimeField(allow_null=True)
    lag_seconds = serializers.FloatField(
        allow_null=True, help_text="How far behind its source: people, now minus the moment "
        "the mirror caught up to; deliveries, the age of the oldest waiting one; other "
        "passes, the time since the last successful pass. Null: not known yet.")
    throughput_last_hour = serializers.IntegerField(
        help_text="Rows read or deliveries made in the last 60 minutes (the initial sync: "
                  "its average rate per hour while it runs).")
    unit = serializers.CharField(help_text="What throughput counts (leads, deliveries, ...).")
    errors_last_hour = serializers.IntegerField()
    last_error = serializers.CharField(help_text="The last error's text; empty if none.")
    last_error_at = serializers.DateTimeField(allow_null=True)
    queue = QueueDepthSerializer(allow_null=True, help_text="Deliveries only; null for "
                                                            "passes.")
    detail = serializers.CharField()
    history = HourBucketSerializer(many=True, help_text="The last 24 hours, oldest first.")


class MarketoBudgetSerializer(serializers.Serializer):
    window_calls = serializers.IntegerField(help_text="Calls in the current 20-s window.")
    window_limit = serializers.IntegerField(help_text="Marketo's limit per window (100).")
    window_share = serializers.IntegerField(
        help_text="The pace the app keeps to (MARKETO_CALLS_PER_WINDOW).")
    window_seconds = serializers.IntegerField()
    today_calls = serializers.IntegerField(
        help_text="Calls today (Marketo's day ends at midnight US Central).")
    daily_quota = serializers.IntegerField(help_text="MARKETO_DAILY_API_QUOTA.")


class SalesforceBudgetSerializer(serializers.Serializer):
    org_used = serializers.IntegerField(
        allow_null=True, help_text="The org's daily API usage at the last Sforce-Limit-Info "
                                   "seen (every integration of the org).")
    org_limit = serializers.IntegerField(allow_null=True)
    seen_at = serializers.DateTimeField(allow_null=True)
    share_percent = serializers.IntegerField(
        help_text="salesforce_daily_api_share_percent: deliveries pause when the org's usage "
                  "reaches this share of its limit.")
    share_limit = serializers.IntegerField(allow_null=True)
    share_used = serializers.FloatField(allow_null=True,
                                        help_text="org_used / share_limit (1.0: paused).")
    today_calls = serializers.IntegerField(help_text="The app's own calls today (UTC).")


class ApiBudgetSerializer(serializers.Serializer):
    marketo = MarketoBudgetSerializer()
    salesforce = SalesforceBudgetSerializer()


class SyncHealthSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=[Status.OK, Status.LAGGING, Status.FAILING],
        help_text="failing if any stream is failing, else lagging if any is lagging, else ok.")
    streams = StreamHealthSerializer(many=True)
    api_budget = ApiBudgetSerializer(source="budget",
                                     help_text="Counted as the app's calls leave; reading it "
                                               "calls neither system.")
