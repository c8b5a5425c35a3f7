"""The project's URLs. The operational pages (the RQ dashboard) are for RevOps admins: see ``revops.ops``."""

import django_rq.urls
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from exceptions.admin.my_notifications import my_notifications_view
from revops.admin.people import InviteAcceptView

from .health import healthz
from .metrics.views import dashboard_csv, dashboard_view
from .ops import guarded
from .sso import sso_enabled

handler400 = "revops.api.errors.bad_request"
handler403 = "revops.api.errors.permission_denied"
handler404 = "revops.api.errors.page_not_found"
handler500 = "revops.api.errors.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=static("revops/favicon.svg"), permanent=False)),
    path("api/v1/", include("revops.api.urls")),
    path("api/v1/", include("revops.engine.api.urls")),
    path("api/v1/", include("exceptions.api.urls")),
    path("api/v1/", include("handoffs.api.urls")),
    path("api/v1/", include("routing.api.urls")),
    path("api/v1/", include("lifecycle.api.urls")),
    path("api/v1/", include("revops.engine.api.reverts")),
    path("admin/rq/", include((guarded(django_rq.urls.urlpatterns), django_rq.urls.app_name))),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="revops-dashboard"),
    path("admin/dashboard/<str:key>.csv", admin.site.admin_view(dashboard_csv), name="revops-dashboard-csv"),
    path("admin/notifications/", admin.site.admin_view(my_notifications_view), name="my-notifications"),
    path("accounts/invite/<uidb64>/<token>/", InviteAcceptView.as_view(), name="invite-accept"),
    path("admin/", admin.site.urls),
]
if sso_enabled():  # single sign-on through OpenID Connect (revops/sso.py): /oidc/authenticate/, /oidc/callback/
    urlpatterns.insert(-1, path("oidc/", include("mozilla_django_oidc.urls")))
