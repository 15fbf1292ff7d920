from django.urls import path

from . import views

urlpatterns = [
    path("account/mailbox/", views.mailbox_connect_view, name="mailbox-connect"),
    path("account/mailbox/disconnect/", views.mailbox_disconnect_view,
         name="mailbox-disconnect"),
]
