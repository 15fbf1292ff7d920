"""Malformed merge tokens (``Hi {{first_name``, ``{first_name}}``, ``{{ }}``) are errors that
name the problem wherever merge fields are taken — preview, send, templates, campaign steps and
the API — instead of reaching the person with their braces (issue 24, defect 9)."""

import pytest
from factories import PersonFactory
from rest_framework.test import APIClient

from emails.merge import CAMPAIGN_FIELDS, MalformedMergeField, merge_check, merge_problem
from emails.models import EmailTemplate, SalesEmail

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}

MALFORMED = [
    ("Hi {{first_name", "“{{first_name”: it is not closed; end it with }}"),
    ("Hi {first_name}}", "“{first_name}}”: it needs two opening braces, e.g. {{first_name}}"),
    ("Hi {{ }}", "“{{ }}”: it has no field name"),
    ("Hi {first_name}", "“{first_name}”: a merge field takes two braces on each side"),
    ("Hi {{company}", "“{{company}”: it is not closed"),
]


@pytest.fixture
def person():
    return PersonFactory(first_name="Olivia", company="Acme", email="olivia@acme.example")


@pytest.mark.parametrize(("text", "problem"), MALFORMED)
def test_malformed_tokens_are_named(text, problem):
    with pytest.raises(MalformedMergeField) as raised:
        merge_check(text)
    assert problem in str(raised.value)


@pytest.mark.parametrize("text", [
    "Hi {{first_name}}", "Hi {{ first_name | there }}!", "{{company|your team}} {{title}}",
    "Prices {in braces} and JSON {\"a\": 1} are plain text", ""])
def test_good_text_passes(text):
    assert merge_problem(text) == ""


def test_campaign_name_is_known_where_campaigns_fill_it():
    assert merge_problem("In {{sales_campaign_name}}", CAMPAIGN_FIELDS) == ""
    assert "known fields are" in merge_problem("In {{sales_campaign_name}}")


@pytest.mark.parametrize(("text", "problem"), MALFORMED)
def test_preview_names_the_malformed_token(seller_client, person, text, problem):
    html = seller_client.post(f"/people/{person.pk}/emails/preview/",
                              {"subject": "Hello", "body": text}, **HTMX).content.decode()
    assert problem.replace("“", "&ldquo;").replace("”", "&rdquo;") in html or problem in html


def test_send_refuses_a_malformed_token_and_keeps_the_text(seller_client, person):
    response = seller_client.post(f"/people/{person.pk}/emails/",
                                  {"subject": "Hi {{first_name", "body": "Hello"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "it is not closed" in html and "Hi {{first_name" in html
    assert not SalesEmail.objects.exists()


def test_a_template_with_a_malformed_token_is_refused(seller_client):
    response = seller_client.post("/emails/templates/", {
        "name": "Intro", "subject": "Hello", "body": "Dear {first_name}},"})
    assert response.status_code == 400
    assert "needs two opening braces" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_the_api_refuses_a_malformed_token(seller, person):
    client = APIClient()
    client.force_authenticate(seller)
    response = client.post("/api/v1/emails/", {"person": person.pk, "subject": "Hi {{ }}",
                                               "body": "Hello"}, format="json")
    assert response.status_code == 400
    assert "has no field name" in response.json()["subject"][0]
    assert not SalesEmail.objects.exists()


def test_a_campaign_step_with_a_malformed_token_is_refused(seller):
    client = APIClient()
    client.force_authenticate(seller)
    response = client.post("/api/v1/campaigns/", {"name": "Spring", "steps": [
        {"type": "email", "day_offset": 0, "subject": "Hi", "body": "Dear {{first_name"},
        {"type": "call", "day_offset": 1, "name": "Call {first_name}}"}]}, format="json")
    assert response.status_code == 400
    steps = response.json()["steps"]
    assert "it is not closed" in steps[0]["body"][0]
    assert "needs two opening braces" in steps[1]["name"][0]


def test_a_fallback_holding_a_merge_field_is_refused_not_sent_half_merged(seller, person):
    """``{{first_name|{{company}}}}`` would reach the person as "{{first_name|Acme}}": a
    fallback is plain text, so a field inside one is an error (issue 22, item 6)."""
    with pytest.raises(MalformedMergeField):
        merge_check("Hi {{first_name|{{company}}}},")
    client = APIClient()
    client.force_authenticate(seller)
    response = client.post("/api/v1/emails/", {"person": person.pk, "subject": "Hello",
                                               "body": "Hi {{first_name|{{company}}}},"},
                           format="json")
    assert response.status_code == 400
    assert "Malformed merge field" in response.json()["body"][0]
    assert not SalesEmail.objects.exists()
