from django.urls import path

from . import views

app_name = "syncing"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("sync/", views.sync_settings_edit, name="sync-settings"),
    path("people-sync/", views.people_sync_status, name="people-sync"),
    path("people-sync/start/", views.people_sync_start, name="people-sync-start"),
    path("deliveries/retry/", views.deliveries_retry_kind, name="deliveries-retry"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery-retry"),
    path("deliveries/<str:target>/resume/", views.deliveries_resume, name="deliveries-resume"),
    path("<str:system>/", views.connection_update, name="connection-update"),
    path("<str:system>/test/", views.connection_test, name="connection-test"),
]
