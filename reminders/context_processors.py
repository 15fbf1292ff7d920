"""The navigation's count of the user's overdue and today tasks, on every page."""

from django.utils.functional import SimpleLazyObject

from .selectors import task_due_count


def tasks_due(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: counted only when a template shows it, and once per request.
    return {"tasks_due_count": SimpleLazyObject(lambda: task_due_count(user))}
