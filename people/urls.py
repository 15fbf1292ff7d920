from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.person_list, name="list"),
    path("<int:pk>/", views.person_detail, name="detail"),
    path("<int:pk>/timeline/", views.person_timeline_panel, name="timeline"),
    path("<int:pk>/marketo-activities/", views.person_marketo_panel, name="marketo-activities"),
]
