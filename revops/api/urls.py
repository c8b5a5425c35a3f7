"""``/api/v1/`` routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("revops.api.sync_urls")),
    path("", include("revops.api.read_urls")),
    path("", include("revops.api.config_urls")),
    path("", include("exceptions.api.urls")),
]
