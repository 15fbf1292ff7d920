from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def task_list(request):
    """The seller's reminder tasks."""
    return render(request, "activities/task_list.html")
