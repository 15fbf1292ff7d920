"""From a message as it arrives over real SMTP to what its links do: the pixel, a rewritten
link and the List-Unsubscribe one-click URL taken from the received message, hit as a mail
client would, record the open, the click (302 to the URL as written) and the unsubscribe."""

import re

import pytest
from django.test import Client
from factories import PersonFactory, UserFactory

from emails.models import SalesEmail
from emails.sending import emails_send_due
from emails.services import queue_email
from unsubscribes.models import Unsubscribe

pytestmark = pytest.mark.django_db(transaction=True)
SITE = "https://sales.example.com"  # SITE_URL in this folder's conftest


def test_the_links_of_a_received_message(mailbox, no_enqueue, settings):
    settings.EMAIL_TRACKING_REDIS_URL = None  # each hit writes the database
    settings.EMAIL_TRACKING_SWITCH_SECONDS = 0
    seller = UserFactory(first_name="Ava", last_name="Stone", email="ava@seller.example")
    person = PersonFactory(first_name="Olivia", email="olivia@customer.example")
    email = queue_email(person=person, sender=seller, subject="Pricing",
                        body="Hi,\n\nSee https://example.com/pricing?a=1&b=2 for the plans.")
    emails_send_due()
    [message] = mailbox.store.messages()
    html = message.part("text/html")
    [pixel] = re.findall(rf'<img src="{SITE}(/e/o/[^"]+\.gif)"', html)
    [click] = re.findall(rf'<a href="{SITE}(/e/c/[^"]+/)">', html)
    [one_click] = re.findall(rf"<{SITE}(/e/u/[^>]+/)>", message.header("List-Unsubscribe"))
    mail_client = Client(enforce_csrf_checks=True)  # no session, no cookies

    assert mail_client.get(pixel)["Content-Type"] == "image/gif"
    redirect = mail_client.get(click)
    unsubscribed = mail_client.post(one_click, data="List-Unsubscribe=One-Click",
                                    content_type="application/x-www-form-urlencoded")

    assert (redirect.status_code, redirect["Location"]) == (
        302, "https://example.com/pricing?a=1&b=2")
    assert unsubscribed.status_code == 200 and "Location" not in unsubscribed
    email.refresh_from_db()
    assert email.status == SalesEmail.Status.CLICKED
    assert [e.kind for e in email.events.order_by("at", "id")] == [
        "queued", "sent", "opened", "clicked", "unsubscribed"]
    unsubscribe = Unsubscribe.objects.get()
    assert (unsubscribe.person, unsubscribe.source) == (person, "link")
