"""The portal's URLs with single sign-on turned on, for the tests that run it (tests/revops/test_sso.py)."""

from django.urls import include, path

from revops.urls import handler400, handler403, handler404, handler500  # noqa: F401
from revops.urls import urlpatterns as portal

urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls")), *portal]
