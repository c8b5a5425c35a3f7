"""``/api/v1/automations/`` kill-switch routes (the wiring includes them in ``revops/urls.py``)."""

from django.urls import path

from . import views

app_name = "api-automations"

urlpatterns = [
    path("automations/paused/", views.SwitchesView.as_view(), name="paused"),
    path("automations/pause-all/", views.PauseAllView.as_view(), name="pause-all"),
    path("automations/resume-all/", views.ResumeAllView.as_view(), name="resume-all"),
    path("automations/<str:automation_id>/pause/", views.AutomationPauseView.as_view(), name="pause"),
    path("automations/<str:automation_id>/resume/", views.AutomationResumeView.as_view(), name="resume"),
]
