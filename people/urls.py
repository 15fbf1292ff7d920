from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.person_list, name="list"),
    path("views/", views.saved_view_create, name="view-create"),
    path("views/<int:pk>/", views.saved_view_open, name="view"),
    path("views/<int:pk>/delete/", views.saved_view_remove, name="view-delete"),
    path("columns/", views.list_columns_choose, name="columns"),
    path("export.csv", views.person_export, name="export"),
    path("<int:pk>/", views.person_detail, name="detail"),
    path("<int:pk>/timeline/", views.person_timeline_panel, name="timeline"),
    path("<int:pk>/marketo-activities/", views.person_marketo_panel, name="marketo-activities"),
]
