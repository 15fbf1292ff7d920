"""Activity pages, included at the site root: a person's calls, and the dialer settings (under
``settings/``, ahead of the connection pages)."""

from django.urls import path

from . import views

app_name = "activities"

urlpatterns = [
    path("people/<int:person_id>/calls/", views.person_calls, name="person-calls"),
    path("people/<int:person_id>/calls/history/", views.person_call_history,
         name="person-call-history"),
    path("settings/calls/", views.call_settings_edit, name="call-settings"),
    path("settings/calls/outcomes/", views.call_menu_add, {"menu": "outcome"},
         name="call-outcome-add"),
    path("settings/calls/outcomes/<int:pk>/remove/", views.call_menu_remove,
         {"menu": "outcome"}, name="call-outcome-remove"),
    path("settings/calls/reasons/", views.call_menu_add, {"menu": "reason"},
         name="call-reason-add"),
    path("settings/calls/reasons/<int:pk>/remove/", views.call_menu_remove,
         {"menu": "reason"}, name="call-reason-remove"),
]
