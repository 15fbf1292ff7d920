"""The system text of a sent sales email (its unsubscribe footer) is in the sending seller's
language, else the install's default (issue #25); the seller's own text is never translated."""

from types import SimpleNamespace

import pytest
from django.utils import translation
from factories import PersonFactory, UserFactory

import emails.sending
from emails.sending import emails_send_due, seller_language
from emails.services import queue_email

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sellers_language_else_the_installs(settings):
    settings.LANGUAGE_CODE = "en-us"
    assert seller_language(SimpleNamespace(language="pt-br")) == "pt-br"
    assert seller_language(SimpleNamespace(language="")) == "en-us"
    assert seller_language(SimpleNamespace()) == "en-us"  # before User.language exists


def test_the_worker_builds_the_message_in_the_sellers_language(mailbox, no_enqueue, settings,
                                                               monkeypatch):
    settings.LANGUAGE_CODE = "fr"
    built_in = []
    build = emails.sending.build_message

    def recording_build(email, options, connection=None):
        built_in.append(translation.get_language())
        return build(email, options, connection=connection)

    monkeypatch.setattr(emails.sending, "build_message", recording_build)
    seller = UserFactory(email="ava@seller.example")
    person = PersonFactory(email="olivia@customer.example")
    queue_email(person=person, sender=seller, subject="Bonjour", body="Hello as written.")

    with translation.override("de"):  # whatever the worker's own language was
        assert emails_send_due().sent == 1

    assert built_in == [getattr(seller, "language", "") or "fr"]
    [message] = mailbox.store.messages()
    assert message.part("text/plain").startswith("Hello as written.")
