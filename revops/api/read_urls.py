"""Read routes under ``/api/v1/``: records, the changes feed, the schema and its docs."""

from django.urls import path

from . import metrics, read
from . import schema as _schema  # noqa: F401  (registers the bearer-token scheme with drf-spectacular)

app_name = "api-read"

urlpatterns = [
    path("schema/", read.SchemaView.as_view(), name="schema"),
    path("docs/", read.SwaggerView.as_view(url_name="api-read:schema"), name="docs"),
    path("changes/", read.ChangesView.as_view(), name="changes"),
    path("metrics/", metrics.MetricsView.as_view(), name="metrics"),
    path("teams/", read.TeamList.as_view(), name="team-list"),
    path("teams/<str:key>/", read.TeamDetail.as_view(), name="team-detail"),
    path("reps/", read.RepList.as_view(), name="rep-list"),
    path("reps/<str:key>/", read.RepDetail.as_view(), name="rep-detail"),
    path("accounts/", read.AccountList.as_view(), name="account-list"),
    path("accounts/<str:key>/", read.AccountDetail.as_view(), name="account-detail"),
    path("leads/", read.LeadList.as_view(), name="lead-list"),
    path("leads/<str:key>/", read.LeadDetail.as_view(), name="lead-detail"),
    path("contacts/", read.ContactList.as_view(), name="contact-list"),
    path("contacts/<str:key>/", read.ContactDetail.as_view(), name="contact-detail"),
    path("opportunities/", read.OpportunityList.as_view(), name="opportunity-list"),
    path("opportunities/<str:key>/", read.OpportunityDetail.as_view(), name="opportunity-detail"),
    path("activities/", read.ActivityList.as_view(), name="activity-list"),
    path("activities/<str:key>/", read.ActivityDetail.as_view(), name="activity-detail"),
    path("tasks/", read.TaskList.as_view(), name="task-list"),
    path("tasks/<str:key>/", read.TaskDetail.as_view(), name="task-detail"),
]
