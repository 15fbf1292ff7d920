"""Deliveries point at their record generically: the call column goes (see 0003). The streams
of the reminder task and unsubscribe syncs get their names."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("syncing", "0003_delivery_record"),
    ]

    operations = [
        migrations.RemoveField(model_name="delivery", name="call"),
        migrations.AlterField(
            model_name="delivery", name="record_type",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="contenttypes.contenttype")),
        migrations.AlterField(model_name="delivery", name="record_id",
                              field=models.PositiveBigIntegerField()),
        migrations.AlterField(
            model_name="syncstream", name="name",
            field=models.CharField(choices=[
                ("people", "People from Marketo"),
                ("salesforce_deliveries", "Deliveries to Salesforce"),
                ("marketo_deliveries", "Deliveries to Marketo"),
                ("reminder_tasks", "Reminder tasks with Salesforce"),
                ("unsubscribes", "Unsubscribes with Salesforce")], max_length=30, unique=True)),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["record_type", "record_id"], name="delivery_record")),
    ]
