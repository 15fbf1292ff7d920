from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_create

# The two sellers own seed people in the sandboxes (see sandbox.seed.OWNERS).
DEMO_USERS = [
    ("admin", "admin@example.com", User.Role.ADMIN, "admin-demo-pass", "Ada", "Admin"),
    ("ava", "ava.stone@example.com", User.Role.SELLER, "ava-demo-pass", "Ava", "Stone"),
    ("ben", "ben.okafor@example.com", User.Role.SELLER, "ben-demo-pass", "Ben", "Okafor"),
]


class Command(BaseCommand):
    help = "Create the demo admin and two demo sellers (if missing) and print their logins."

    def handle(self, *args, **options):
        for username, email, role, password, first, last in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                user_create(username=username, email=email, role=role, password=password,
                            first_name=first, last_name=last)
        self.stdout.write(_("Demo logins:"))
        for username, _email, role, password, *_rest in DEMO_USERS:
            self.stdout.write(f"  {role:<7} {username} / {password}")
