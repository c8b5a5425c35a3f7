"""``/api/v1/exceptions/`` routes: list, detail, actions on one item, and "claim the next item".

Item ids are matched as text and checked by the selector, so a malformed id is a JSON 404 like
any id the caller cannot see (``<int:>`` would answer Django's HTML 404 for ``-1``).
"""

from django.urls import path

from . import views

app_name = "api-exceptions"

ACTIONS = {
    "claim": views.ClaimView,
    "assign": views.AssignView,
    "resolve": views.ResolveView,
    "dismiss": views.DismissView,
    "snooze": views.SnoozeView,
    "escalate": views.EscalateView,
    "approve": views.ApproveView,
    "reject": views.RejectView,
    "override": views.OverrideView,
}

urlpatterns = [
    path("exceptions/", views.ExceptionItemList.as_view(), name="list"),
    path("exceptions/next/", views.NextItemView.as_view(), name="next"),
    path("exceptions/<str:item_id>/", views.ExceptionItemDetail.as_view(), name="detail"),
    *(path(f"exceptions/<str:item_id>/{action}/", view.as_view(), name=action) for action, view in ACTIONS.items()),
]
