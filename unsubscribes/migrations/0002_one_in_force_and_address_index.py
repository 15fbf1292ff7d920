from django.db import migrations, models
from django.db.models.functions import Upper


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0003_list_statistics"),
        ("unsubscribes", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="unsubscribe", name="unsubscribe_in_force"),
        migrations.AddConstraint(
            model_name="unsubscribe",
            constraint=models.UniqueConstraint(condition=models.Q(removed_at__isnull=True),
                                               fields=("person",),
                                               name="unsubscribe_one_in_force"),
        ),
        migrations.AddIndex(
            model_name="unsubscribe",
            index=models.Index(Upper("email"), condition=models.Q(removed_at__isnull=True),
                               name="unsubscribe_address_in_force"),
        ),
    ]
