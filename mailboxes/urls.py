from django.urls import path

from . import views

urlpatterns = [
    path("account/mailbox/", views.mailbox_connect_view, name="mailbox-connect"),
    path("account/mailbox/disconnect/", views.mailbox_disconnect_view,
         name="mailbox-disconnect"),
    path("account/mailbox/oauth/callback/", views.mailbox_oauth_callback,
         name="mailbox-oauth-callback"),
    path("account/mailbox/oauth/<str:provider>/", views.mailbox_oauth_start,
         name="mailbox-oauth-start"),
]
