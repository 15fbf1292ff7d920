"""The compose panel on a person's page (send, errors, live preview, templates), the Sent
page and the templates page, through Django's test client."""

import pytest
from factories import AdminFactory, PersonFactory, UserFactory

from emails.models import EmailTemplate, SalesEmail
from emails.services import queue_email, template_save

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def person():
    return PersonFactory(first_name="Olivia", last_name="Reed", company="Acme", title="CTO",
                         email="olivia@acme.example")


@pytest.fixture(autouse=True)
def _no_enqueue(no_enqueue):
    return no_enqueue


def test_the_person_page_loads_the_panel(seller_client, person):
    page = seller_client.get(f"/people/{person.pk}/").content.decode()
    assert f'hx-get="/people/{person.pk}/emails/?part=compose"' in page  # "Write an email"

    compose = seller_client.get(f"/people/{person.pk}/emails/?part=compose", **HTMX)
    assert 'id="email-form"' in compose.content.decode()
    assert 'id="person-sent"' not in compose.content.decode()  # the timeline lists them

    panel = seller_client.get(f"/people/{person.pk}/emails/", **HTMX).content.decode()
    assert 'id="email-form"' in panel and 'id="email-preview"' in panel
    assert "<script" not in panel and "hx-on" not in panel  # CSP without inline script
    assert "No sales emails sent to this person yet." in panel


def test_send_from_the_panel(seller_client, seller, person):
    response = seller_client.post(f"/people/{person.pk}/emails/", {
        "subject": "Hi {{first_name}}", "body": "Hello {{company}}", "track": "on"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Email to olivia@acme.example queued" in html
    email = SalesEmail.objects.get()
    assert (email.subject, email.body, email.sender, email.track) == (
        "Hi Olivia", "Hello Acme", seller, True)
    assert 'data-status="queued"' in html and "Hi Olivia" in html


def test_an_unknown_merge_field_is_shown_on_the_form(seller_client, person):
    response = seller_client.post(f"/people/{person.pk}/emails/", {
        "subject": "Hi {{nick}}", "body": "Hello"}, **HTMX)

    assert "Unknown merge field {{nick}}" in response.content.decode()
    assert not SalesEmail.objects.exists()


def test_without_htmx_errors_answer_400_and_success_redirects(seller_client, person):
    assert seller_client.post(f"/people/{person.pk}/emails/",
                              {"subject": "", "body": "x"}).status_code == 400
    response = seller_client.post(f"/people/{person.pk}/emails/",
                                  {"subject": "Hi", "body": "x"})
    assert response.status_code == 302


def test_preview_merges_escapes_and_links(seller_client, person):
    response = seller_client.post(f"/people/{person.pk}/emails/preview/", {
        "subject": "For {{first_name}} at {{company}}",
        "body": "Hi {{first_name}} <b>{{title}}</b>,\nsee https://example.com/x.\n"
                "{{last_name|friend}} — {{sender_name}}"}, **HTMX)

    html = response.content.decode()
    assert "For Olivia at Acme" in html
    assert "Hi Olivia &lt;b&gt;CTO&lt;/b&gt;,<br>" in html
    assert '<a href="https://example.com/x">https://example.com/x</a>.' in html
    assert "Reed — Sam" in html


def test_preview_uses_the_fallback_and_names_unknown_fields(seller_client):
    nameless = PersonFactory(first_name="", email="x@acme.example")
    html = seller_client.post(f"/people/{nameless.pk}/emails/preview/",
                              {"subject": "Hi {{first_name|there}}", "body": "b"}).content.decode()
    assert "Hi there" in html
    html = seller_client.post(f"/people/{nameless.pk}/emails/preview/",
                              {"subject": "Hi", "body": "{{favourite_color}}"}).content.decode()
    assert "Unknown merge field {{favourite_color}}" in html


def test_a_template_fills_the_form(seller_client, seller, person):
    template = template_save(user=seller, name="Intro", subject="Intro {{company}}",
                             body="Hello {{first_name}}")
    other = template_save(user=UserFactory(), name="Not mine", subject="s", body="b")

    html = seller_client.get(f"/people/{person.pk}/emails/", {"template": template.pk},
                             **HTMX).content.decode()
    assert "Intro {{company}}" in html and "Hello {{first_name}}" in html
    html = seller_client.get(f"/people/{person.pk}/emails/", {"template": other.pk},
                             **HTMX).content.decode()
    assert "Not mine" not in html


def test_templates_page_sellers_own_admins_shared(client, seller, person):
    admin = AdminFactory()
    shared = template_save(user=admin, name="Shared intro", subject="s", body="b", shared=True)
    client.force_login(seller)
    response = client.post("/emails/templates/", {"name": "Mine", "subject": "Hi {{first_name}}",
                                                  "body": "b", "shared": "on"})
    assert response.status_code == 302
    mine = EmailTemplate.objects.get(name="Mine")
    assert mine.owner == seller and not mine.shared  # sellers have no "shared" field
    page = client.get("/emails/templates/").content.decode()
    assert "Shared intro" in page and "Mine" in page
    assert client.get(f"/emails/templates/{shared.pk}/").status_code == 403
    assert client.post(f"/emails/templates/{shared.pk}/delete/").status_code == 403
    bad = client.post("/emails/templates/", {"name": "Bad", "subject": "{{nope}}", "body": "b"})
    assert bad.status_code == 400 and "Unknown merge field {{nope}}" in bad.content.decode()

    client.force_login(admin)
    client.post("/emails/templates/", {"name": "Team", "subject": "s", "body": "b",
                                       "shared": "on"})
    assert EmailTemplate.objects.get(name="Team").shared
    assert client.post(f"/emails/templates/{shared.pk}/delete/").status_code == 302
    # An admin sees a seller's own template? No: templates are the maker's and shared ones.
    assert "Mine" not in client.get("/emails/templates/").content.decode()


def test_sent_page_sellers_own_admins_all(client, seller, person):
    other = UserFactory()
    queue_email(person=person, sender=seller, subject="Mine", body="b")
    queue_email(person=person, sender=other, subject="Theirs", body="b")
    client.force_login(seller)
    page = client.get("/emails/sent/").content.decode()
    assert "Mine" in page and "Theirs" not in page
    assert 'data-kind="queued"' in page
    client.force_login(AdminFactory())
    page = client.get("/emails/sent/").content.decode()
    assert "Mine" in page and "Theirs" in page
    assert "Mine" not in client.get("/emails/sent/", {"status": "sent"}).content.decode()
