"""The sales email behind an unsubscribe (its link, or a hard bounce or complaint on it)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('emails', '0003_outcome_times'),
        ('unsubscribes', '0003_address_statistics'),
    ]

    operations = [
        migrations.AddField(
            model_name='unsubscribe',
            name='sales_email',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='unsubscribes', to='emails.salesemail'),
        ),
    ]
