"""``/api/v1/emails/...`` (included from salesactions/urls.py). The tracking branch adds
``emails/events/`` here."""

from django.urls import path

from . import api

urlpatterns = [
    path("emails/", api.EmailListApi.as_view(), name="email-list"),
    path("emails/<int:pk>/", api.EmailDetailApi.as_view(), name="email-detail"),
]
