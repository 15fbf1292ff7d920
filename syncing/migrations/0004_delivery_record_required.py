"""Deliveries point at their record generically: the call column goes (see 0003)."""

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
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["record_type", "record_id"], name="delivery_record")),
    ]
