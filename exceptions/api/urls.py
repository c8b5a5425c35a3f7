"""``/api/v1/exceptions/`` routes: list, detail, actions on one item, and "claim the next item".

Item ids are matched as text and checked by the selector, so a malformed id is a JSON 404 like
any id the caller cannot see (``<int:>`` would answer Django's HTML 404 for ``-1``).

There is one route per action of ``exceptions.actions`` (named after its key, e.g.
``api-exceptions:resolve``), documented in the schema; the last route serves an action registered
after the URLs were loaded (``api-exceptions:action``, not in the schema).
"""

from django.urls import path

from exceptions.actions import item_actions

from . import views

app_name = "api-exceptions"

urlpatterns = [
    path("exceptions/", views.ExceptionItemList.as_view(), name="list"),
    path("exceptions/next/", views.NextItemView.as_view(), name="next"),
    path("exceptions/<str:item_id>/", views.ExceptionItemDetail.as_view(), name="detail"),
    *(
        path(f"exceptions/<str:item_id>/{action.key}/", views.action_view(action.key).as_view(), name=action.key)
        for action in item_actions()
    ),
    path("exceptions/<str:item_id>/<str:action>/", views.AnyItemActionView.as_view(), name="action"),
]
