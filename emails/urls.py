"""Tracking and unsubscribe links inside emails (no login). The views are the ``tracking``
branch's (``emails/tracking_views.py``); these placeholders only fix the names and paths."""

from django.urls import path, re_path

from . import tracking_views

urlpatterns = [
    re_path(r"^e/o/(?P<token>[-\w:.]+)\.gif$", tracking_views.open_pixel, name="email-open"),
    path("e/c/<str:token>/", tracking_views.click, name="email-click"),
    path("e/u/<str:token>/", tracking_views.unsubscribe, name="email-unsubscribe"),
]
