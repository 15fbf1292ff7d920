"""Who may do what through the API, as one table: every operation the OpenAPI schema lists, for
each role, with the exact status a valid request gets. The rule: sellers see and change their
own, admins everyone's; sync endpoints are for admins; people are everyone's to read.

The operations come from the app's schema (the generator behind ``/api/schema/``), so an
endpoint added without a row here fails this test until its row says who gets what.
"""

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from factories import (
    AdminFactory,
    CallFactory,
    EmailTemplateFactory,
    MailboxFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UnsubscribeFactory,
    UserFactory,
)
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from people.models import Person, SavedView
from people.services import person_apply_leads
from sandbox import seed

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "seller A", "seller B", "admin")

# A valid request to each operation, aimed at seller A's objects.
MATRIX = {
    # operation                                   anonymous  seller A  seller B  admin
    "GET /api/v1/calls/":                           (401,      200,      200,      200),
    "POST /api/v1/calls/":                          (401,      201,      201,      201),
    "GET /api/v1/calls/{id}/":                      (401,      200,      404,      200),
    # Campaigns: sellers see their own and shared ones (seller A's here is private).
    "GET /api/v1/campaigns/":                       (401,      200,      200,      200),
    "POST /api/v1/campaigns/":                      (401,      201,      201,      201),
    "GET /api/v1/campaigns/{id}/":                  (401,      200,      404,      200),
    "PUT /api/v1/campaigns/{id}/":                  (401,      200,      404,      200),
    "PATCH /api/v1/campaigns/{id}/":                (401,      200,      404,      200),
    "DELETE /api/v1/campaigns/{id}/":               (401,      204,      404,      204),
    "GET /api/v1/campaigns/{id}/members/":          (401,      200,      404,      200),
    "POST /api/v1/campaigns/{id}/members/":         (401,      201,      404,      201),
    "DELETE /api/v1/campaigns/{id}/members/{person_id}/": (401, 204,     404,      204),
    "GET /api/v1/emails/":                          (401,      200,      200,      200),
    "POST /api/v1/emails/":                         (401,      201,      201,      201),
    "GET /api/v1/emails/{id}/":                     (401,      200,      404,      200),
    # Cancelling one that waits (seller A's, scheduled).
    "POST /api/v1/emails/{id}/cancel/":             (401,      200,      404,      200),
    # Templates: a seller's own (seller A's here), shared ones made by admins.
    "GET /api/v1/emails/templates/":                (401,      200,      200,      200),
    "POST /api/v1/emails/templates/":               (401,      201,      201,      201),
    "GET /api/v1/emails/templates/{id}/":           (401,      200,      404,      404),
    "PUT /api/v1/emails/templates/{id}/":           (401,      200,      404,      404),
    "PATCH /api/v1/emails/templates/{id}/":         (401,      200,      404,      404),
    "DELETE /api/v1/emails/templates/{id}/":        (401,      204,      404,      404),
    # Analytics of seller A: their own, or an admin; seller B may not ask for them.
    "GET /api/v1/analytics/emails/":                (401,      200,      403,      200),
    "GET /api/v1/analytics/activity/":              (401,      200,      403,      200),
    # Provider events: admins (or the provider's events token), never sellers.
    "POST /api/v1/emails/events/":                  (401,      403,      403,      200),
    # Mailboxes: each seller connects their own (POST reconnects one already there).
    "GET /api/v1/mailboxes/":                       (401,      200,      200,      200),
    "POST /api/v1/mailboxes/":                      (401,      201,      201,      201),
    "GET /api/v1/mailboxes/{id}/":                  (401,      200,      404,      200),
    "PATCH /api/v1/mailboxes/{id}/":                (401,      200,      404,      200),
    "DELETE /api/v1/mailboxes/{id}/":               (401,      204,      404,      204),
    "GET /api/v1/calls/outcomes/":                  (401,      200,      200,      200),
    "GET /api/v1/people/":                          (401,      200,      200,      200),
    "GET /api/v1/people/{id}/":                     (401,      200,      200,      200),
    "GET /api/v1/people/export/":                   (401,      403,      403,      200),
    "GET /api/v1/people/{id}/marketo-activities/":  (401,      200,      200,      200),
    # Saved views: seller A's is private; shared ones are everyone's to read.
    "GET /api/v1/people/views/":                    (401,      200,      200,      200),
    "POST /api/v1/people/views/":                   (401,      201,      201,      201),
    "GET /api/v1/people/views/{id}/":               (401,      200,      404,      200),
    "DELETE /api/v1/people/views/{id}/":            (401,      204,      404,      204),
    "GET /api/v1/sync/health/":                     (401,      403,      403,      200),
    "GET /api/v1/sync/runs/":                       (401,      403,      403,      200),
    "POST /api/v1/sync/runs/":                      (401,      403,      403,      202),
    "GET /api/v1/sync/settings/":                   (401,      403,      403,      200),
    "PUT /api/v1/sync/settings/":                   (401,      403,      403,      200),
    "PATCH /api/v1/sync/settings/":                 (401,      403,      403,      200),
    "GET /api/v1/tasks/":                           (401,      200,      200,      200),
    "POST /api/v1/tasks/":                          (401,      201,      201,      201),
    "GET /api/v1/tasks/{id}/":                      (401,      200,      404,      200),
    "PATCH /api/v1/tasks/{id}/":                    (401,      200,      404,      200),
    "DELETE /api/v1/tasks/{id}/":                   (401,      204,      404,      204),
    # Suppression is global: everyone sees every unsubscribe; only admins remove one.
    "GET /api/v1/unsubscribes/":                    (401,      200,      200,      200),
    "POST /api/v1/unsubscribes/":                   (401,      201,      201,      201),
    "GET /api/v1/unsubscribes/{id}/":               (401,      200,      200,      200),
    "DELETE /api/v1/unsubscribes/{id}/":            (401,      403,      403,      200),
}  # fmt: skip

# What the requests carry: the object behind a path's {id} (seller A's), and the body.
PATH_OBJECTS = {
    "/api/v1/calls/{id}/": "call",
    "/api/v1/campaigns/{id}/": "campaign",
    "/api/v1/campaigns/{id}/members/": "campaign",
    "/api/v1/campaigns/{id}/members/{person_id}/": "campaign",
    "/api/v1/emails/{id}/": "email",
    "/api/v1/emails/{id}/cancel/": "waiting_email",
    "/api/v1/emails/templates/{id}/": "template",
    "/api/v1/mailboxes/{id}/": "mailbox",
    "/api/v1/people/{id}/": "person",
    "/api/v1/people/{id}/marketo-activities/": "person",
    "/api/v1/people/views/{id}/": "view",
    "/api/v1/tasks/{id}/": "task",
    "/api/v1/unsubscribes/{id}/": "unsubscribe",
}
SETTINGS = {
    "people_sync_enabled": True, "people_sync_interval_seconds": 120,
    "log_activities_to_marketo": True, "log_emails_to_salesforce": True,
    "log_calls_to_salesforce": True, "log_reminder_tasks_to_salesforce": True,
    "task_subject_template": "{{activity_type}}: {{activity_subject}}",
    "salesforce_daily_api_share_percent": 50, "reminder_task_sync_enabled": False,
    "unsubscribe_sync_enabled": False, "unsubscribe_sync_schedule": "nightly",
    "unsubscribe_custom_optout_field": "", "marketo_unsubscribe_check": True,
}
CAMPAIGN = {"name": "Spring outreach", "steps": [
    {"type": "call", "day_offset": 0, "name": "Intro call"},
    {"type": "email", "day_offset": 2, "subject": "Hi {{first_name}}", "body": "Hello"}]}
BODIES = {
    "POST /api/v1/campaigns/": lambda objects: CAMPAIGN,
    "PUT /api/v1/campaigns/{id}/": lambda objects: CAMPAIGN,
    "PATCH /api/v1/campaigns/{id}/": lambda objects: {"name": "Summer outreach"},
    "POST /api/v1/campaigns/{id}/members/": lambda objects: {"person": objects["person"].pk},
    "POST /api/v1/calls/": lambda objects: {"person": objects["person"].pk},
    "POST /api/v1/people/views/": lambda objects: {"name": "Initech",
                                                   "query": "owner=all&company=Initech"},
    "POST /api/v1/emails/": lambda objects: {"person": objects["person"].pk, "subject": "Hi",
                                             "body": "Hello {{first_name|there}}"},
    "POST /api/v1/emails/templates/": lambda objects: {"name": "Intro", "subject": "Hi",
                                                      "body": "Hello {{first_name|there}}"},
    "PUT /api/v1/emails/templates/{id}/": lambda objects: {"name": "Intro", "subject": "Hi",
                                                           "body": "Hello"},
    "PATCH /api/v1/emails/templates/{id}/": lambda objects: {"name": "Intro v2"},
    "POST /api/v1/emails/events/": lambda objects: [{"event_type": "delivered",
                                                     "message_id": "<none@example.com>"}],
    "POST /api/v1/mailboxes/": lambda objects: objects["mail_account"].connect_body(),
    "PATCH /api/v1/mailboxes/{id}/": lambda objects: objects["mail_account"].connect_body(),
    "POST /api/v1/sync/runs/": lambda objects: {"kind": "initial"},
    "PUT /api/v1/sync/settings/": lambda objects: SETTINGS,
    "PATCH /api/v1/sync/settings/": lambda objects: {"people_sync_interval_seconds": 90},
    "POST /api/v1/tasks/": lambda objects: {"person": objects["person"].pk, "name": "Call back",
                                            "due_date": "2027-01-04"},
    "PATCH /api/v1/tasks/{id}/": lambda objects: {"name": "Call back on Monday"},
    "POST /api/v1/unsubscribes/": lambda objects: {"person": objects["person"].pk},
    "DELETE /api/v1/unsubscribes/{id}/": lambda objects: {"reason": "Wrong person"},
}
# Fixtures an operation needs beyond the users and their objects.
NEEDS = {"GET /api/v1/people/{id}/marketo-activities/": "marketo_connected",
         "POST /api/v1/mailboxes/": "mail_account",
         "PATCH /api/v1/mailboxes/{id}/": "mail_account"}


def schema_operations() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [f"{method.upper()} {path}" for path, item in schema["paths"].items()
            for method in item]


OPERATIONS = schema_operations()


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "authorization"}}
    cache.clear()


@pytest.fixture
def clients() -> dict[str, APIClient]:
    users = {"seller A": UserFactory(), "seller B": UserFactory(), "admin": AdminFactory()}
    clients = {"anonymous": APIClient()}
    for role, user in users.items():
        clients[role] = APIClient()
        clients[role].credentials(
            HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        clients[role].user = user
    return clients


@pytest.fixture
def objects(clients, request) -> dict:
    from campaigns.models import Campaign
    from campaigns.services import campaign_create, members_add

    person_apply_leads([seed.lead(1, 1, 10), seed.lead(2, 1, 10)])
    person, member = Person.objects.order_by("marketo_id")
    owner = clients["seller A"].user
    campaign = campaign_create(owner=owner, name="Private", status=Campaign.Status.ACTIVE,
                               steps=[{"type": "call", "day_offset": 3, "name": "Call"}])
    if "members" in request.node.callspec.params["operation"]:
        members_add(campaign, [member.pk], by=owner)
    return {"person": person, "member": member, "campaign": campaign,
            "call": CallFactory(person=person, logged_by=clients["seller A"].user),
            "task": ReminderTaskFactory(person=person, assignee=clients["seller A"].user),
            "unsubscribe": UnsubscribeFactory(created_by=clients["seller A"].user),
            "email": SalesEmailFactory(person=person, sender=clients["seller A"].user),
            "waiting_email": SalesEmailFactory(person=person, sender=clients["seller A"].user,
                                               status="queued", sent_at=None),
            "view": SavedView.objects.create(owner=owner, name="Mine", query="owner=mine"),
            "template": EmailTemplateFactory(owner=clients["seller A"].user),
            "mailbox": MailboxFactory(user=clients["seller A"].user)}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(set(OPERATIONS) | set(MATRIX)))
def test_who_gets_what(operation, role, clients, objects, request):
    assert operation in MATRIX, f"{operation} is in the API: add its row to MATRIX"
    assert operation in OPERATIONS, f"{operation} is in MATRIX but not in the API"
    if operation in NEEDS:
        objects[NEEDS[operation]] = request.getfixturevalue(NEEDS[operation])
    method, path = operation.split(" ")
    if path in PATH_OBJECTS:
        path = path.replace("{id}", str(objects[PATH_OBJECTS[path]].pk)).replace(
            "{person_id}", str(objects["member"].pk))
    send = getattr(clients[role], method.lower())

    if operation in BODIES:
        response = send(path, BODIES[operation](objects), format="json")
    elif path.startswith("/api/v1/analytics/"):
        response = send(path, {"group_by": "day", "sender": clients["seller A"].user.pk})
    else:
        response = send(path)

    assert response.status_code == MATRIX[operation][ROLES.index(role)], response.content
