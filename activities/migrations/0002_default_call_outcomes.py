"""A fresh install offers the usual call outcomes; an admin edits them on Settings → Calls.

Only into an empty menu: an install whose admin already set outcomes up keeps them.
"""

from django.db import migrations

#: (name, how such a call ended: Marketo's "Sales Call Status")
DEFAULT_OUTCOMES = [
    ("Connected", "completed"),
    ("Left voicemail", "no_answer"),
    ("No answer", "no_answer"),
    ("Wrong number", "failed"),
    ("Busy", "no_answer"),
    ("Not interested", "completed"),
    ("Meeting booked", "completed"),
]


def add_default_outcomes(apps, schema_editor):
    CallOutcome = apps.get_model("activities", "CallOutcome")
    if CallOutcome.objects.using(schema_editor.connection.alias).exists():
        return
    CallOutcome.objects.using(schema_editor.connection.alias).bulk_create(
        CallOutcome(name=name, call_status=status, position=position)
        for position, (name, status) in enumerate(DEFAULT_OUTCOMES))


def remove_default_outcomes(apps, schema_editor):
    CallOutcome = apps.get_model("activities", "CallOutcome")
    CallOutcome.objects.using(schema_editor.connection.alias).filter(
        name__in=[name for name, _ in DEFAULT_OUTCOMES]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("activities", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_default_outcomes, remove_default_outcomes),
    ]
