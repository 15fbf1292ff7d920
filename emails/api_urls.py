"""``/api/v1/emails/...`` (included from salesactions/urls.py). The tracking branch adds
``emails/events/`` here."""

from django.urls import path

from . import api, events_api, templates_api

urlpatterns = [
    path("emails/events/", events_api.EmailEventsApi.as_view(), name="email-events"),
    path("emails/templates/", templates_api.TemplateListApi.as_view(), name="email-templates"),
    path("emails/templates/<int:pk>/", templates_api.TemplateDetailApi.as_view(),
         name="email-template"),
    path("emails/", api.EmailListApi.as_view(), name="email-list"),
    path("emails/<int:pk>/", api.EmailDetailApi.as_view(), name="email-detail"),
    path("emails/<int:pk>/cancel/", api.EmailCancelApi.as_view(), name="email-cancel"),
]
