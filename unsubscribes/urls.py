"""Unsubscribe pages, included at the site root (next to the person page)."""

from django.urls import path

from . import views

app_name = "unsubscribes"

urlpatterns = [
    path("people/<int:person_id>/unsubscribe/", views.person_unsubscribe,
         name="person-unsubscribe"),
    path("unsubscribes/<int:pk>/remove/", views.unsubscribe_remove_view, name="remove"),
]
