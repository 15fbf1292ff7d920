"""Sales email pages, included at the site root: the compose panel on a person's page, the
preview, the seller's Sent page and the templates page."""

from django.urls import path

from . import views

app_name = "emails"

urlpatterns = [
    path("people/<int:person_id>/emails/", views.person_emails, name="person-emails"),
    path("people/<int:person_id>/emails/preview/", views.preview, name="preview"),
    path("people/<int:person_id>/emails/sent/", views.person_sent, name="person-sent"),
    path("emails/sent/", views.sent, name="sent"),
    path("emails/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("emails/templates/", views.templates_page, name="templates"),
    path("emails/templates/<int:pk>/", views.template_edit, name="template-edit"),
    path("emails/templates/<int:pk>/delete/", views.template_remove, name="template-delete"),
]
