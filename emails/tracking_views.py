"""Placeholders: the ``tracking`` branch replaces this module (open pixel, click redirect,
unsubscribe confirmation page and RFC 8058 one-click POST)."""

from django.http import HttpResponse


def open_pixel(request, token):
    return HttpResponse(status=404)


def click(request, token):
    return HttpResponse(status=404)


def unsubscribe(request, token):
    return HttpResponse(status=404)
