from django.urls import path

from syncing.health import views as health_views
from syncing.mirror import views as mirror_views
from syncing.outbox import views as outbox_views

from . import views

app_name = "syncing"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("sync/", views.sync_settings_edit, name="sync-settings"),
    path("health/", health_views.sync_health_page, name="health"),
    path("people-sync/", mirror_views.people_sync_status, name="people-sync"),
    path("people-sync/start/", mirror_views.people_sync_start, name="people-sync-start"),
    path("deliveries/retry/", outbox_views.deliveries_retry_kind, name="deliveries-retry"),
    path("deliveries/<int:pk>/retry/", outbox_views.delivery_retry, name="delivery-retry"),
    path("deliveries/<str:target>/resume/", outbox_views.deliveries_resume,
         name="deliveries-resume"),
    path("<str:system>/", views.connection_update, name="connection-update"),
    path("<str:system>/test/", views.connection_test, name="connection-test"),
]
