"""The first open, click, reply and bounce of each email, filled from the stored events (the
analytics count each email once per outcome; ``manage.py analytics_rebuild`` does the same)."""

from django.conf import settings
from django.db import migrations, models

OUTCOMES = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at",
            "bounced": "bounced_at"}


def fill(apps, schema_editor):
    """One UPDATE from the events' aggregate (as ``analytics_rebuild`` does by batches): a
    minute or so for a million emails on PostgreSQL."""
    firsts = ", ".join(f"MIN(CASE WHEN kind = '{kind}' THEN at END) AS {column}"
                       for kind, column in OUTCOMES.items())
    kinds = ", ".join(f"'{kind}'" for kind in OUTCOMES)
    assignments = ", ".join(f"{column} = f.{column}" for column in OUTCOMES.values())
    schema_editor.execute(
        f"UPDATE emails_salesemail SET {assignments} FROM (SELECT email_id, {firsts} "
        f"FROM emails_emailevent WHERE kind IN ({kinds}) GROUP BY email_id) f "
        f"WHERE emails_salesemail.id = f.email_id")


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
        # Filled before the indexes exist: a single pass, no index to keep up to date.
        migrations.RunPython(fill, migrations.RunPython.noop),
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
    ]
