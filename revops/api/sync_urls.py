"""``/api/v1/sync/<object>/`` routes."""

from django.urls import path

from .sync import SyncView

urlpatterns = [
    path("sync/<str:object_name>/", SyncView.as_view(), name="sync"),
]
