import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")

django_application = get_wsgi_application()

# The open pixel and click redirect are answered in front of Django (emails/tracking_wsgi.py);
# imported once Django is set up.
from emails.tracking_wsgi import tracking_fast_path  # noqa: E402

application = tracking_fast_path(django_application)
