import factory
from django.utils import timezone

from accounts.models import User
from analytics.rollups import rollups_recount, slices, task_slices


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"seller{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Seller{n}")
    role = User.Role.SELLER
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def saved(self, create, extracted, **kwargs):
        if create:
            self.save()


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    role = User.Role.ADMIN
    is_staff = True


class PersonFactory(factory.django.DjangoModelFactory):
    """A person in the workspace. Tests of sync-shaped data use people.services.person_apply_leads
    instead, which stores Marketo leads exactly as the sync does."""

    class Meta:
        model = "people.Person"

    marketo_id = factory.Sequence(lambda n: 500_000 + n)
    first_name = "Olivia"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    email = factory.LazyAttribute(
        lambda person: f"{person.first_name}.{person.last_name}@example.com".lower())
    company = "Acme Corp"
    title = "VP Sales"
    source = "Webinar"
    sfdc_owner_id = "005000000000001AAA"
    owner_email = "ava.stone@example.com"
    owner_first_name = "Ava"
    owner_last_name = "Stone"
    marketo_updated_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)


class UnsubscribeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "unsubscribes.Unsubscribe"

    person = factory.SubFactory(PersonFactory)
    email = factory.LazyAttribute(lambda unsubscribe: unsubscribe.person.email)
    source = "manual"


class CallFactory(factory.django.DjangoModelFactory):
    """A logged call, without deliveries (``activities.services.call_log`` makes those)."""

    class Meta:
        model = "activities.Call"
        skip_postgeneration_save = True

    person = factory.SubFactory(PersonFactory)
    logged_by = factory.SubFactory(UserFactory)
    outcome = "Connected"
    notes = "Talked about the renewal."
    duration_seconds = 180
    phone_number = "+1 415-555-0142"
    called_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def rollups(self, create, extracted, **kwargs):
        """As ``calls_log`` keeps them."""
        if create:
            rollups_recount(activity=slices([(self.called_at, self.logged_by_id)]))


class DeliveryFactory(factory.django.DjangoModelFactory):
    """An outbox row; by default a call's delivery to Salesforce."""

    class Meta:
        model = "syncing.Delivery"

    target = "salesforce"
    kind = "call"
    record = factory.SubFactory(CallFactory)
    next_attempt_at = factory.LazyFunction(timezone.now)


class ReminderTaskFactory(factory.django.DjangoModelFactory):
    """An open reminder task due today, assigned to a new seller."""

    class Meta:
        model = "reminders.ReminderTask"
        skip_postgeneration_save = True

    person = factory.SubFactory(PersonFactory)
    assignee = factory.SubFactory(UserFactory)
    created_by = factory.SelfAttribute("assignee")
    type = "call"
    name = factory.Sequence(lambda n: f"Follow up #{n}")
    due_date = factory.LazyFunction(timezone.localdate)

    @factory.post_generation
    def rollups(self, create, extracted, **kwargs):
        """As the task services keep them."""
        if create:
            rollups_recount(tasks=task_slices([self]))


class SalesEmailFactory(factory.django.DjangoModelFactory):
    """A sales email sent to a person by a new seller (already merged text)."""

    class Meta:
        model = "emails.SalesEmail"
        skip_postgeneration_save = True

    person = factory.SubFactory(PersonFactory)
    sender = factory.SubFactory(UserFactory)
    to_email = factory.LazyAttribute(lambda email: email.person.email)
    subject = factory.Sequence(lambda n: f"Following up #{n}")
    body = "Hello, following up on our call."
    status = "sent"
    sent_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def rollups(self, create, extracted, **kwargs):
        """As sending and ``events_apply`` keep them."""
        if create:
            rollups_recount(emails=slices([(self.sent_at, self.sender_id)]),
                            activity=slices([(self.replied_at, self.sender_id)]))


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    """A seller's own template."""

    class Meta:
        model = "emails.EmailTemplate"

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hi {{first_name|there}}"
    body = "Hello {{first_name|there}}, {{sender_name}} here."


class MailboxFactory(factory.django.DjangoModelFactory):
    """A seller's connected mailbox, saved as is (no login tried: tests that need the servers
    connect through ``mailboxes.services.mailbox_connect`` with the ``mail_account`` fixture)."""

    class Meta:
        model = "mailboxes.Mailbox"

    user = factory.SubFactory(UserFactory)
    imap_host = "imap.example.com"
    imap_port = 993
    imap_security = "tls"
    smtp_host = "smtp.example.com"
    smtp_port = 465
    smtp_security = "tls"
    username = factory.LazyAttribute(lambda mailbox: mailbox.user.email)
    password = "app-password"
    sent_folder = "Sent"
    connected_at = factory.LazyFunction(timezone.now)
