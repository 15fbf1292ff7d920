"""Deliveries point at their record generically (``kind`` + ``record``), so an app adds a kind
of outbound work without a column of its own on ``Delivery``."""

import django.db.models.deletion
from django.db import migrations, models


def _checks_now(schema_editor):
    # Foreign key checks at once, not at commit: PostgreSQL refuses to ALTER a table with
    # deferred checks pending, and the schema changes around this share its transaction.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def calls_to_records(apps, schema_editor):
    Delivery = apps.get_model("syncing", "Delivery")
    if not Delivery.objects.exists():
        return
    _checks_now(schema_editor)
    ContentType = apps.get_model("contenttypes", "ContentType")
    call_type, _ = ContentType.objects.get_or_create(app_label="activities", model="call")
    Delivery.objects.filter(call__isnull=False).update(record_type=call_type,
                                                       record_id=models.F("call_id"))


def records_to_calls(apps, schema_editor):
    Delivery = apps.get_model("syncing", "Delivery")
    _checks_now(schema_editor)
    Delivery.objects.filter(kind="call").update(call_id=models.F("record_id"))


class Migration(migrations.Migration):

    dependencies = [
        ("activities", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("syncing", "0002_outbox"),
    ]

    operations = [
        migrations.RenameField(model_name="delivery", old_name="activity_type", new_name="kind"),
        migrations.AlterField(model_name="delivery", name="kind",
                              field=models.CharField(max_length=40)),
        migrations.AddField(
            model_name="delivery", name="record_type",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="contenttypes.contenttype")),
        migrations.AddField(model_name="delivery", name="record_id",
                            field=models.PositiveBigIntegerField(null=True)),
        migrations.RunPython(calls_to_records, records_to_calls),
    ]
