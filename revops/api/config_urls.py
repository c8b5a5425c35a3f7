"""``/api/v1/config/`` routes: export, plan and apply the configuration (scope ``config:write``)."""

from django.urls import path

from . import config

app_name = "api-config"

urlpatterns = [
    path("config/", config.ConfigView.as_view(), name="export"),
    path("config/plan/", config.ConfigPlanView.as_view(), name="plan"),
    path("config/apply/", config.ConfigApplyView.as_view(), name="apply"),
    path("config/releases/", config.ConfigReleasesView.as_view(), name="releases"),
    path("config/releases/<int:number>/rollback/", config.ConfigRollbackView.as_view(), name="rollback"),
]
