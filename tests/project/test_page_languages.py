"""No English left on any page in another language (issue 25).

Every page a seller or admin can GET (the URLconf walked, with a seeded person, call, task,
email, campaign, template, mailbox, saved view, unsubscribe) is rendered in English and in each
other language with the same data. The texts a person reads — text nodes, and the title,
placeholder, aria-label, alt, value (buttons), data-confirm and data-text-* attributes — are
compared: a text found in both renders that still holds an English word is reported, unless
the word is data (the seeded values, time zone and language names, call outcomes), a brand
(Marketo, Salesforce, Sales Actions, Sales Insight Actions) or a code (capitals, digits,
addresses, paths), or a word the language spells the same way (``SAME_WORD``).

``test_no_english_left_on_any_page`` fails on every page whose strings are not tagged and
translated yet, listing page, language and text. The pages of the language infrastructure
itself (login, You page, the layout) are checked on their own and pass.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import pytest
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from factories import (
    AdminFactory,
    CallFactory,
    DeliveryFactory,
    EmailTemplateFactory,
    MailboxFactory,
    PersonFactory,
    ReminderTaskFactory,
    SalesEmailFactory,
    UnsubscribeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]
BRANDS = {"Marketo", "Salesforce", "Sales", "Actions", "Insight", "Engage", "Google",
          "Microsoft", "Postmark", "Swagger", "ReDoc", "IMAP", "SMTP", "LinkedIn", "InMail"}
# Words each language writes exactly as English does (whole words, case-sensitive).
SAME_WORD = {
    "fr": {"Menu", "Signature", "Source", "Notes", "Contact", "Contacts", "Type", "Date",
           "Total", "Lead", "Leads", "Description", "Actions", "Minutes", "Note", "Options",
           "ok"},
    "es": {"Total", "Email", "Error", "Lead", "Leads", "Minutos", "emails", "Normal"},
    "it": {"Menu", "Password", "Account", "Lead", "Leads", "Browser", "Email", "Endpoint",
           "Report", "Username", "Test", "Link", "Online", "ok", "App"},
    "pt-br": {"Menu", "Email", "Emails", "Lead", "Leads", "Total", "Status", "Link", "Online",
              "ok", "Normal"},
    "zh-hans": set(),
}
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-confirm"}
CODE_CHUNK = re.compile(r"[/@_.:=#\d]|^[A-Z0-9]{2,}[^a-z]*$|^\W*$")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


class _Texts(HTMLParser):
    """The texts of a page a person reads: text nodes (not in script/style/code) and reading
    attributes; elements with an id in ``skip_ids`` are left out with what they hold."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, skip_ids=()):
        super().__init__(convert_charrefs=True)
        self.texts: set[str] = set()
        self.skip_ids = set(skip_ids)
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skipped for _tag, skipped in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skipped = attributes.get("id") in self.skip_ids or tag in {"script", "style", "code",
                                                                   "pre", "textarea"}
        if not self._skipping() and not skipped:
            for name, value in attributes.items():
                if not value:
                    continue
                if name in READ_ATTRIBUTES or name.startswith("data-text-") or (
                        name == "value" and (tag == "button" or attributes.get("type") in {
                            "submit", "button", "reset"})):
                    self.texts.add(" ".join(value.split()))
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skipping():
            self.texts.add(text)


def texts_of(html: str, skip_ids=()) -> set[str]:
    parser = _Texts(skip_ids)
    parser.feed(html)
    return parser.texts


def english_words(text: str, allowed: set[str]) -> list[str]:
    """The words of ``text`` that are English UI words: not data, brand, code or allowed."""
    found = []
    for chunk in text.split():
        if CODE_CHUNK.search(chunk.strip("()[]«»“”\"',;!?")):
            continue
        for word in WORD.findall(chunk):
            if len(word) > 1 and word not in allowed and word not in BRANDS:
                found.append(word)
    return found


def english_left(english_html: str, other_html: str, language: str, data_words: set[str],
                 skip_ids=()) -> list[str]:
    """Texts that read the same in English and in ``language`` and hold an English word."""
    allowed = data_words | SAME_WORD.get(language, set())
    same = texts_of(english_html, skip_ids) & texts_of(other_html, skip_ids)
    return sorted(text for text in same if english_words(text, allowed))


# ---------------------------------------------------------------------------- the workspace


def _words(*values) -> set[str]:
    return {word for value in values if isinstance(value, str) for word in WORD.findall(value)}


@pytest.fixture
def workspace():
    """An admin (who sees every page) owning a person with a call, a failed delivery, a task,
    sent email, template, mailbox, campaign with a member, saved view and an unsubscribe.
    Data in German or as names, so no seeded value hides an English UI word."""
    from campaigns.services import campaign_create, members_add
    from people.models import SavedView

    admin = AdminFactory(username="ada", email="ada@beispiel.example", first_name="Ada",
                         last_name="Lovelace")
    person = PersonFactory(first_name="Olivia", last_name="Quinn", company="Globex",
                           title="Vertriebsleiterin", source="Messe", owner_email=admin.email,
                           owner_first_name="Ada", owner_last_name="Lovelace")
    other = PersonFactory(first_name="Jonas", last_name="Weber", company="Initech",
                          title="Einkauf", source="Messe", owner_email=admin.email,
                          owner_first_name="Ada", owner_last_name="Lovelace")
    call = CallFactory(person=person, logged_by=admin, notes="Rückruf vereinbart",
                       phone_number="+49 30 5555 0100")
    DeliveryFactory(record=call, status="failed", attempts=3, last_error_code="FIELD_INVALID",
                    last_error_message="FIELD_INVALID")
    task = ReminderTaskFactory(person=person, assignee=admin, name="Globex Rückruf")
    email = SalesEmailFactory(person=person, sender=admin, subject="Hallo Olivia",
                              body="Hallo Olivia, bis bald.")
    template = EmailTemplateFactory(owner=admin, name="Vorlage Eins", subject="Hallo",
                                    body="Hallo {{first_name}}")
    MailboxFactory(user=admin, sent_folder="Gesendet")
    campaign = campaign_create(owner=admin, name="Kampagne Frühling", status="active", steps=[
        {"type": "email", "day_offset": 0, "subject": "Hallo {{first_name}}",
         "body": "Hallo {{first_name}}, Grüße."},
        {"type": "call", "day_offset": 3, "name": "Anruf {{first_name}}"}])
    members_add(campaign, [person.pk], by=admin)
    view = SavedView.objects.create(owner=admin, name="Globex Sicht", query="owner=all")
    unsubscribe = UnsubscribeFactory(person=other)
    return {"admin": admin, "person": person, "call": call, "task": task, "email": email,
            "template": template, "campaign": campaign, "view": view,
            "unsubscribe": unsubscribe, "other": other}


def data_words(workspace) -> set[str]:
    """Every word of the seeded rows' text fields and of the data pages show as is."""
    from activities.models import CallOutcome, CallReason

    words = set()
    for row in workspace.values():
        for field in row._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.EmailField):
                words |= _words(getattr(row, field.attname))
    words |= _words(*(name for name in CallOutcome.objects.values_list("name", flat=True)))
    words |= _words(*(name for name in CallReason.objects.values_list("name", flat=True)))
    words |= _words(*available_timezones(), *(name for _code, name in settings.LANGUAGES))
    return words


def page_urls(workspace) -> dict[str, str]:
    """Every page of the URLconf (not the API, the ESP webhooks or tracking hits), its
    arguments filled from the workspace."""
    from emails.tokens import unsubscribe_url

    campaign = workspace["campaign"]
    step = campaign.steps.first()
    by_prefix = [("people/views/", workspace["view"].pk), ("people/", workspace["person"].pk),
                 ("tasks/", workspace["task"].pk), ("campaigns/", campaign.pk),
                 ("emails/templates/", workspace["template"].pk),
                 ("emails/", workspace["email"].pk),
                 ("unsubscribes/", workspace["unsubscribe"].pk)]
    fixed = {"person_id": workspace["person"].pk, "step_id": step.pk if step else 0,
             "provider": "google", "system": "marketo", "target": "salesforce"}
    urls = {}

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(("api/", "anymail/", "^e/", "e/")) or route == "language/":
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            assert isinstance(pattern, URLPattern)
            names = re.findall(r"<(?:\w+:)?(\w+)>", route)
            url = "/" + route
            for name in names:
                value = fixed.get(name)
                if value is None and name in ("pk", "item_id"):
                    value = next((v for p, v in by_prefix if route.startswith(p)), 0)
                url = re.sub(rf"<(?:\w+:)?{name}>", str(value), url)
            urls[f"{pattern.name or route}"] = url

    walk(get_resolver().url_patterns)
    urls["email-unsubscribe"] = urlsplit(unsubscribe_url(workspace["email"])).path
    urls["login"] = "/login/"
    return urls


def rendered(client: Client, url: str, language: str) -> str | None:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return None
    return response.content.decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_left_on_any_page(workspace, language):
    client = Client()
    client.force_login(workspace["admin"])
    words = data_words(workspace)
    found, pages = [], 0
    for name, url in sorted(page_urls(workspace).items()):
        page_client = Client() if name in ("login", "email-unsubscribe") else client
        english = rendered(page_client, url, "en")
        if english is None:
            continue
        pages += 1
        other = rendered(page_client, url, language) or ""
        found += [f"{name} ({url}) [{language}]: {text}"
                  for text in english_left(english, other, language, words)]
    assert pages >= 25, f"only {pages} pages rendered: the walk lost some"
    assert not found, (f"English UI text left in {language} ({len(found)} texts, {pages} pages "
                       f"checked):\n" + "\n".join(found))


# ------------------------------------------------------------- the pages of this branch

MAILBOX_CARD = "mailbox"  # The You page's mailbox card (mailboxes app): tagged by its owner.


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_left_on_the_login_and_you_pages_and_layout(language):
    seller = UserFactory(username="ada", email="ada@beispiel.example", first_name="Ada",
                         last_name="Lovelace")
    signed_in = Client()
    signed_in.force_login(seller)
    words = _words(seller.username, seller.email, seller.first_name, seller.last_name,
                   *available_timezones(), *(name for _code, name in settings.LANGUAGES))
    found = []
    for client, url in ((Client(), "/login/"), (signed_in, "/account/")):
        english, other = rendered(client, url, "en"), rendered(client, url, language)
        assert english and other
        found += [f"{url} [{language}]: {text}" for text in
                  english_left(english, other, language, words, skip_ids={MAILBOX_CARD})]
    assert not found, "\n".join(found)


def test_the_check_finds_untagged_text():
    """The comparison reports an untagged sentence and a button, not translated ones, data,
    codes or words the language shares."""
    english = ('<main><h1>Your settings</h1><p>Nothing is due today.</p>'
               '<button title="Remove this task">x</button><p>Olivia Quinn</p>'
               '<p>STRING_TOO_LONG</p><p>Menu</p><td>Europe/Paris</td></main>')
    french = ('<main><h1>Vos paramètres</h1><p>Nothing is due today.</p>'
              '<button title="Remove this task">x</button><p>Olivia Quinn</p>'
              '<p>STRING_TOO_LONG</p><p>Menu</p><td>Europe/Paris</td></main>')

    left = english_left(english, french, "fr", {"Olivia", "Quinn"})

    assert left == ["Nothing is due today.", "Remove this task"]
