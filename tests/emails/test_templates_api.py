"""``/api/v1/emails/templates/``: a seller's own templates and the shared ones admins make,
as on the Manage templates page; and ``POST /api/v1/emails/`` with a template."""

import pytest
from factories import AdminFactory, EmailTemplateFactory, PersonFactory, UserFactory
from rest_framework.test import APIClient

from emails.models import EmailTemplate

pytestmark = pytest.mark.django_db
PATH = "/api/v1/emails/templates/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_seller_lists_their_own_and_the_shared_ones():
    ava, ben, admin = UserFactory(), UserFactory(), AdminFactory()
    own = EmailTemplateFactory(owner=ava, name="Intro")
    EmailTemplateFactory(owner=ben, name="Ben's")
    shared = EmailTemplateFactory(owner=admin, name="Webinar", shared=True)

    body = client_for(ava).get(PATH).json()

    assert body["count"] == 2
    assert [(row["id"], row["editable"]) for row in body["results"]] == [
        (shared.pk, False), (own.pk, True)]
    assert body["results"][0]["owner"] == admin.username


def test_a_seller_creates_changes_and_deletes_their_own():
    ava = UserFactory()
    api = client_for(ava)
    created = api.post(PATH, {"name": "Intro", "subject": "Hi {{first_name|there}}",
                              "body": "Hello from {{sender_name}}"}, format="json")
    assert created.status_code == 201, created.json()
    template = EmailTemplate.objects.get(pk=created.json()["id"])
    assert (template.owner, template.shared) == (ava, False)

    assert api.patch(f"{PATH}{template.pk}/", {"name": "Intro v2"},
                     format="json").json()["name"] == "Intro v2"
    replaced = api.put(f"{PATH}{template.pk}/", {"name": "Intro v3", "subject": "Hello",
                                                 "body": "Hi"}, format="json")
    assert replaced.status_code == 200
    assert (replaced.json()["subject"], replaced.json()["body"]) == ("Hello", "Hi")
    assert api.delete(f"{PATH}{template.pk}/").status_code == 204
    assert not EmailTemplate.objects.exists()


def test_shared_templates_are_made_and_changed_by_admins_only():
    seller, admin = UserFactory(), AdminFactory()
    values = {"name": "Webinar", "subject": "Hi", "body": "Hello", "shared": True}
    assert client_for(seller).post(PATH, values, format="json").status_code == 403
    created = client_for(admin).post(PATH, values, format="json")
    assert created.status_code == 201 and created.json()["shared"] is True
    path = f"{PATH}{created.json()['id']}/"

    assert client_for(seller).get(path).status_code == 200
    assert client_for(seller).patch(path, {"name": "Mine"}, format="json").status_code == 403
    assert client_for(seller).delete(path).status_code == 403
    assert client_for(admin).patch(path, {"name": "Webinar v2"}, format="json").status_code == 200


def test_another_sellers_template_is_404():
    other = EmailTemplateFactory(owner=UserFactory())
    api = client_for(UserFactory())
    assert api.get(f"{PATH}{other.pk}/").status_code == 404
    assert api.delete(f"{PATH}{other.pk}/").status_code == 404


def test_bad_template_fields_are_400_naming_them():
    api = client_for(UserFactory())
    blank = api.post(PATH, {"name": " ", "subject": "Hi", "body": "Hello"}, format="json")
    assert blank.status_code == 400 and set(blank.json()) == {"name"}
    unknown = api.post(PATH, {"name": "Intro", "subject": "Hi {{nickname}}", "body": "Hello"},
                       format="json")
    assert unknown.status_code == 400 and "{{nickname}}" in unknown.json()["subject"][0]
    assert not EmailTemplate.objects.exists()


def test_sending_with_a_template_fills_subject_and_body(no_enqueue):
    seller = UserFactory(first_name="Ava", last_name="Stone")
    template = EmailTemplateFactory(owner=seller, subject="Hi {{first_name|there}}",
                                    body="{{company}}: {{sender_name}} here.")
    person = PersonFactory(first_name="Olivia", company="Acme")
    api = client_for(seller)

    response = api.post("/api/v1/emails/", {"person": person.pk, "template": template.pk},
                        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["subject"], body["body"]) == ("Hi Olivia", "Acme: Ava Stone here.")
    assert body["template"] == template.pk
    overridden = api.post("/api/v1/emails/", {"person": person.pk, "template": template.pk,
                                              "subject": "Quick one"}, format="json").json()
    assert overridden["subject"] == "Quick one" and overridden["body"] == body["body"]


def test_sending_with_someone_elses_template_or_nothing_is_400():
    seller = UserFactory()
    person = PersonFactory()
    other = EmailTemplateFactory(owner=UserFactory())
    api = client_for(seller)
    refused = api.post("/api/v1/emails/", {"person": person.pk, "template": other.pk},
                       format="json")
    assert refused.status_code == 400 and "template" in refused.json()
    missing = api.post("/api/v1/emails/", {"person": person.pk}, format="json")
    assert missing.status_code == 400 and set(missing.json()) == {"subject", "body"}
