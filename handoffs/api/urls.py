"""``/api/v1/handoffs/`` routes (the wiring, ``revops/urls.py``, includes them)."""

from django.urls import path

from . import views

app_name = "api-handoffs"

urlpatterns = [
    path("handoffs/", views.HandoffList.as_view(), name="list"),
    path("handoffs/<str:handoff_id>/", views.HandoffDetail.as_view(), name="detail"),
    *(path(f"handoffs/<str:handoff_id>/{answer}/", views.answer_view(answer), name=answer) for answer in views.ANSWERS),
]
