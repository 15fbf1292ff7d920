"""Which language (and time zone) a request is answered in (README "Languages").

1. a signed-in user's own language, chosen on the You page (pages only);
2. otherwise Django's order (``LocaleMiddleware``): the language picked from the login page's
   menu (the ``django_language`` cookie), then the browser's ``Accept-Language``;
3. otherwise ``LANGUAGE_CODE``, the install's default.

The API (``/api/``) and the pages opened from an email (the unsubscribe page) follow
``Accept-Language`` (and the cookie): they are read by programs or by people who are not
signed in. A signed-in user's time zone is activated here too, so every page shows moments in
it (the template engine converts aware datetimes to the active zone).
"""

from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

# Read by programs (the API) or by the people sales email went to (the links inside emails:
# unsubscribe page, open pixel, click redirect): the browser's language, never a seller's.
NOT_A_SELLERS_PAGE = ("/api/", "/e/")


def user_language(request) -> str:
    """The language a signed-in user chose for their pages ("" when none, or not signed in)."""
    if request.path_info.startswith(NOT_A_SELLERS_PAGE):
        return ""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return user.language


class UserLocaleMiddleware(LocaleMiddleware):
    """``LocaleMiddleware`` with the signed-in user's own language and time zone first."""

    def process_request(self, request):
        chosen = user_language(request)
        if chosen and translation.check_for_language(chosen):
            translation.activate(chosen)
            request.LANGUAGE_CODE = translation.get_language()
        else:
            super().process_request(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated
                and not request.path_info.startswith(NOT_A_SELLERS_PAGE)):
            timezone.activate(user.zone)
        else:
            timezone.deactivate()
