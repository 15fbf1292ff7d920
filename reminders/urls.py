"""Task pages, included at the site root."""

from django.urls import path

from . import run_views, views

app_name = "reminders"

urlpatterns = [
    path("tasks/", views.queue, name="queue"),
    path("tasks/add-for-people/", views.bulk_add, name="bulk-add"),
    path("tasks/run/", run_views.task_run, name="run"),
    path("tasks/run/<int:pk>/skip/", run_views.task_run_skip, name="run-skip"),
    path("tasks/<int:pk>/complete/", views.complete, name="task-complete"),
    path("tasks/<int:pk>/reopen/", views.reopen, name="task-reopen"),
    path("tasks/<int:pk>/snooze/", views.snooze, name="task-snooze"),
    path("tasks/<int:pk>/edit/", views.edit, name="task-edit"),
    path("tasks/<int:pk>/delete/", views.delete, name="task-delete"),
    path("people/<int:person_id>/tasks/", views.person_tasks, name="person-tasks"),
]
