"""``/api/v1/analytics/...`` (included from salesactions/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("analytics/emails/", api.EmailReportApi.as_view(), name="analytics-emails"),
    path("analytics/activity/", api.ActivityReportApi.as_view(), name="analytics-activity"),
]
