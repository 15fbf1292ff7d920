"""The app's URLs plus one page that fails, for the 500 page's tests."""

from django.urls import path

from salesactions import errors
from salesactions.urls import urlpatterns as app_urlpatterns


def broken(request):
    raise RuntimeError("the test's broken page")


urlpatterns = [path("broken/", broken), path("api/v1/broken/", broken), *app_urlpatterns]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
