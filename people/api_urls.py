"""People endpoints under /api/v1/ (read-only)."""

from django.urls import path

from .api import (
    PersonDetailApi,
    PersonExportApi,
    PersonListApi,
    PersonMarketoActivitiesApi,
    SavedViewDetailApi,
    SavedViewListApi,
)

urlpatterns = [
    path("people/", PersonListApi.as_view(), name="person-list"),
    path("people/export/", PersonExportApi.as_view(), name="person-export"),
    path("people/views/", SavedViewListApi.as_view(), name="people-view-list"),
    path("people/views/<int:pk>/", SavedViewDetailApi.as_view(), name="people-view-detail"),
    path("people/<int:pk>/", PersonDetailApi.as_view(), name="person-detail"),
    path("people/<int:pk>/marketo-activities/", PersonMarketoActivitiesApi.as_view(),
         name="person-marketo-activities"),
]
