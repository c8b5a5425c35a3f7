"""``/api/v1/routing-rules/`` routes: a rule's kill switch (the wiring includes them in ``revops/urls.py``)."""

from django.urls import path

from . import views

app_name = "api-routing"

urlpatterns = [
    path("routing-rules/<str:rule_id>/pause/", views.RulePauseView.as_view(), name="rule-pause"),
    path("routing-rules/<str:rule_id>/resume/", views.RuleResumeView.as_view(), name="rule-resume"),
]
