from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_create


class Command(BaseCommand):
    help = "Make a user: add_user USERNAME --email EMAIL --role seller|admin [--password P]"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=User.Role.values)
        parser.add_argument("--password", help="generated and printed when omitted")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, **options):
        try:
            user, password = user_create(
                username=options["username"], email=options["email"], role=options["role"],
                password=options["password"], first_name=options["first_name"],
                last_name=options["last_name"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        facts = {"role": user.role, "username": user.username,
                 "email": user.email, "password": password}
        if options["password"]:
            message = _("Created %(role)s %(username)s <%(email)s>") % facts
        else:
            message = (_("Created %(role)s %(username)s <%(email)s> with password %(password)s")
                       % facts)
        self.stdout.write(self.style.SUCCESS(message))
