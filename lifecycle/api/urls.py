"""``/api/v1/`` lifecycle routes (the wiring, ``revops/urls.py``, includes them before the core's lead routes)."""

from django.urls import path

from . import views

app_name = "api-lifecycle"

urlpatterns = [
    path("lifecycle/mqls/", views.WaitingList.as_view(), name="mqls"),
    path("leads/<str:key>/accept/", views.answer_view("accept"), name="accept"),
    path("leads/<str:key>/reject/", views.answer_view("reject"), name="reject"),
]
