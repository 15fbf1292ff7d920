"""Campaign pages, included at the site root."""

from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_new, name="new"),
    path("campaigns/review/", views.review_queue, name="review"),
    path("campaigns/review/<int:item_id>/", views.review_action, name="review-action"),
    path("campaigns/review/<int:item_id>/preview/", views.review_preview, name="review-preview"),
    path("campaigns/add-people/", views.bulk_add, name="bulk-add"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/status/", views.campaign_status, name="status"),
    path("campaigns/<int:pk>/steps/", views.step_add, name="step-add"),
    path("campaigns/<int:pk>/steps/<int:step_id>/", views.step_edit, name="step-edit"),
    path("campaigns/<int:pk>/steps/<int:step_id>/move/", views.step_action, name="step-action"),
    path("campaigns/<int:pk>/members/<int:person_id>/remove/", views.member_remove_view,
         name="member-remove"),
    path("people/<int:person_id>/campaigns/", views.person_panel, name="person-panel"),
    path("people/<int:person_id>/campaigns/add/", views.person_add, name="person-add"),
]
