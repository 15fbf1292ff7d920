from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from activities.api import CallDetailApi, CallListApi, CallOutcomeListApi
from campaigns.api import CampaignDetailApi, CampaignListApi, MemberDetailApi, MemberListApi
from mailboxes.api import MailboxDetailApi, MailboxListApi
from reminders.api import TaskDetailApi, TaskListApi
from syncing.health.api import SyncHealthApi
from syncing.outbox.views import diagnostics
from syncing.settings.api import SyncRunListApi, SyncSettingsApi
from unsubscribes.api import UnsubscribeDetailApi, UnsubscribeListApi

from . import api, errors, security, views

api_v1 = [
    path("sync/settings/", SyncSettingsApi.as_view(), name="sync-settings"),
    path("sync/runs/", SyncRunListApi.as_view(), name="sync-runs"),
    path("sync/health/", SyncHealthApi.as_view(), name="sync-health"),
    path("calls/", CallListApi.as_view(), name="call-list"),
    path("calls/<int:pk>/", CallDetailApi.as_view(), name="call-detail"),
    path("calls/outcomes/", CallOutcomeListApi.as_view(), name="call-outcome-list"),
    path("tasks/", TaskListApi.as_view(), name="task-list"),
    path("tasks/<int:pk>/", TaskDetailApi.as_view(), name="task-detail"),
    path("unsubscribes/", UnsubscribeListApi.as_view(), name="unsubscribe-list"),
    path("unsubscribes/<int:pk>/", UnsubscribeDetailApi.as_view(), name="unsubscribe-detail"),
    path("campaigns/", CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/members/", MemberListApi.as_view(), name="campaign-members"),
    path("campaigns/<int:pk>/members/<int:person_id>/", MemberDetailApi.as_view(),
         name="campaign-member"),
    path("mailboxes/", MailboxListApi.as_view(), name="mailbox-list"),
    path("mailboxes/<int:pk>/", MailboxDetailApi.as_view(), name="mailbox-detail"),
    path("", include("people.api_urls")),
    path("", include("emails.api_urls")),
    path("", include("analytics.api_urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="people:list"), name="home"),
    path("login/", security.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("account/", accounts_views.profile, name="profile"),
    path("", include("mailboxes.urls")),
    path("account/name/", accounts_views.profile_name, name="profile-name"),
    path("account/language/", accounts_views.profile_language, name="profile-language"),
    # The login page's language menu (Django's set_language: a cookie, then back to `next`).
    path("language/", login_not_required(set_language), name="set_language"),
    path("account/signature/", accounts_views.profile_signature, name="profile-signature"),
    path("account/password/", accounts_views.profile_password, name="profile-password"),
    # Activity pages live under people/<id>/calls/ and settings/calls/; ahead of the
    # settings include, whose "<system>/" would otherwise take "settings/calls/".
    path("", include("activities.urls")),
    path("", include("reminders.urls")),
    path("", include("unsubscribes.urls")),
    # Links inside emails (no login): open pixel, click redirect, unsubscribe.
    path("", include("emails.urls")),
    path("", include("campaigns.urls")),
    path("", include("analytics.urls")),
    path("", include("emails.page_urls")),
    # anymail's ESP webhooks (Postmark: postmark/tracking/, postmark/inbound/): emails/webhooks.py
    path("anymail/", include("anymail.urls")),
    path("people/", include("people.urls")),
    path("settings/", include("syncing.settings.urls")),
    path("diagnostics/", diagnostics, name="diagnostics"),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/", api.api_not_found),
]

# Under /api/ errors are JSON; pages get the app's own error pages (salesactions/errors.py).
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
