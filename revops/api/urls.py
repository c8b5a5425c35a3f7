"""``/api/v1/`` routes of the core (the apps' API routes are added by the wiring, ``revops/urls.py``)."""

from django.urls import include, path

urlpatterns = [
    path("", include("revops.api.sync_urls")),
    path("", include("revops.api.read_urls")),
    path("", include("revops.api.config_urls")),
]
