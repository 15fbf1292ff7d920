"""The first open, click, reply and bounce of each email, filled from the stored events (the
analytics count each email once per outcome; ``manage.py analytics_rebuild`` does the same)."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Min, OuterRef, Subquery

OUTCOMES = {"opened_at": "opened", "clicked_at": "clicked", "replied_at": "replied",
            "bounced_at": "bounced"}


def fill(apps, schema_editor):
    SalesEmail = apps.get_model("emails", "SalesEmail")
    EmailEvent = apps.get_model("emails", "EmailEvent")
    for column, kind in OUTCOMES.items():
        first = (EmailEvent.objects.filter(email=OuterRef("pk"), kind=kind).order_by()
                 .values("email").annotate(first=Min("at")).values("first"))
        SalesEmail.objects.filter(events__kind=kind).update(**{column: Subquery(first)})


class Migration(migrations.Migration):

    dependencies = [
        ('emails', '0002_provider_message_id'),
        ('people', '0003_list_statistics'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='salesemail',
            name='bounced_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='salesemail',
            name='clicked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='salesemail',
            name='opened_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='salesemail',
            name='replied_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='salesemail',
            index=models.Index(condition=models.Q(('sent_at__isnull', False)), fields=['sent_at'], include=('template', 'opened_at', 'clicked_at', 'replied_at', 'bounced_at'), name='salesemail_sent_report'),
        ),
        migrations.AddIndex(
            model_name='salesemail',
            index=models.Index(condition=models.Q(('sent_at__isnull', False)), fields=['sender', 'sent_at'], include=('template', 'opened_at', 'clicked_at', 'replied_at', 'bounced_at'), name='salesemail_sender_sent_report'),
        ),
        migrations.AddIndex(
            model_name='salesemail',
            index=models.Index(condition=models.Q(('replied_at__isnull', False)), fields=['sender', 'replied_at'], name='salesemail_sender_replied'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
