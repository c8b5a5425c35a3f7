"""The default revenue data dictionary: every core field plus the closed-won handoff fields.

Loaded by a data migration and by ``load_demo``; both only add entries that are missing, so a
team's edits to definitions, owners or sources of truth are never overwritten.
"""

from .models.records import Account, Activity, Contact, Lead, Opportunity, Task

CRM, BILLING, MAP, PORTAL, MANUAL, ENRICH, USAGE = (
    "crm",
    "billing",
    "marketing_automation",
    "portal",
    "manual",
    "enrichment",
    "product_usage",
)
REVOPS, SALES, MARKETING, CS, FINANCE, ENABLEMENT = (
    "Revenue Operations",
    "Sales",
    "Marketing",
    "Customer Success",
    "Finance",
    "Sales Enablement",
)


def _choices(choices_cls):
    return [value for value, _label in choices_cls.choices]


def f(object_type, key, label, field_type, definition, *, source=CRM, team=REVOPS, core=True, **extra):
    return {
        "object_type": object_type,
        "key": key,
        "label": label,
        "field_type": field_type,
        "definition": definition,
        "source_of_truth": source,
        "owning_team": team,
        "is_core": core,
        **extra,
    }


def _common(object_type):
    return [
        f(
            object_type,
            "external_id",
            "CRM id",
            "text",
            f"The {object_type}'s unique id in the CRM.",
            required="always",
        ),
        f(
            object_type,
            "source_updated_at",
            "Last changed in CRM",
            "datetime",
            "When the CRM last modified the record; updates older than the stored one are refused.",
        ),
    ]


DEFAULT_FIELDS = [
    *_common("team"),
    f("team", "name", "Team name", "text", "The team's display name.", required="always"),
    f("team", "manager", "Manager", "reference", "The rep who manages the team.", reference_to="rep"),
    f("team", "parent", "Parent team", "reference", "The team this team rolls up to.", reference_to="team"),
    f("team", "region", "Region", "text", "Sales region the team covers (e.g. NA, EMEA, APAC)."),
    f("team", "segment", "Segment", "text", "Customer segment the team covers (e.g. SMB, MM, ENT)."),
    *_common("rep"),
    f("rep", "name", "Name", "text", "The rep's full name.", required="always", is_pii=True),
    f("rep", "email", "Email", "email", "The rep's work email.", required="always", is_pii=True, normalise="email"),
    f("rep", "title", "Job title", "text", "The rep's role, e.g. Account Executive or SDR."),
    f("rep", "manager", "Manager", "reference", "The rep's direct manager.", reference_to="rep"),
    f("rep", "team", "Team", "reference", "The team the rep belongs to.", reference_to="team"),
    f("rep", "region", "Region", "text", "Region the rep covers."),
    f(
        "rep",
        "segments",
        "Segments",
        "multi_choice",
        "Customer segments the rep may work.",
        allowed_values=["SMB", "MM", "ENT", "STRATEGIC"],
    ),
    f("rep", "is_active", "Active", "boolean", "Whether the rep can receive new records."),
    f("rep", "out_of_office_until", "Out of office until", "datetime", "Routing skips the rep until this time."),
    f("rep", "time_zone", "Time zone", "text", "IANA time zone for working hours and SLAs, e.g. Europe/Berlin."),
    *_common("account"),
    f("account", "name", "Account name", "text", "The company's legal or trading name.", required="always"),
    f(
        "account",
        "domain",
        "Email domain",
        "text",
        "Primary email/web domain, used to match leads.",
        source=ENRICH,
        normalise="domain",
    ),
    f("account", "website", "Website", "text", "The company's website.", source=ENRICH, normalise="domain"),
    f("account", "industry", "Industry", "text", "Industry classification.", source=ENRICH),
    f("account", "employees", "Employees", "integer", "Number of employees.", source=ENRICH),
    f("account", "annual_revenue", "Annual revenue", "decimal", "Annual revenue in USD.", source=ENRICH),
    f(
        "account",
        "country",
        "Country",
        "text",
        "Headquarters country, stored as ISO 3166-1 alpha-2 (US, DE, …).",
        normalise="country",
    ),
    f("account", "state", "State/region", "text", "Headquarters state, province or region."),
    f("account", "parent", "Parent account", "reference", "The parent company's account.", reference_to="account"),
    f("account", "owner", "Account owner", "reference", "The rep who owns the account.", reference_to="rep"),
    f(
        "account",
        "is_named",
        "Named/strategic",
        "boolean",
        "Named or strategic accounts keep a fixed owner; routing never reassigns them by territory.",
        team=SALES,
    ),
    f(
        "account",
        "customer_status",
        "Customer status",
        "choice",
        "Whether the company is a prospect, a customer, a former customer or a partner.",
        source=BILLING,
        team=FINANCE,
        allowed_values=_choices(Account.CustomerStatus),
    ),
    *_common("lead"),
    f(
        "lead",
        "email",
        "Email",
        "email",
        "The lead's email address.",
        source=MAP,
        team=MARKETING,
        is_pii=True,
        normalise="email",
    ),
    f("lead", "first_name", "First name", "text", "The lead's first name.", source=MAP, team=MARKETING, is_pii=True),
    f("lead", "last_name", "Last name", "text", "The lead's last name.", source=MAP, team=MARKETING, is_pii=True),
    f("lead", "company", "Company", "text", "Company name as the lead typed it.", source=MAP, team=MARKETING),
    f(
        "lead",
        "domain",
        "Domain",
        "text",
        "The company's web domain.",
        source=ENRICH,
        team=MARKETING,
        normalise="domain",
    ),
    f("lead", "title", "Job title", "text", "The lead's job title.", source=MAP, team=MARKETING),
    f(
        "lead",
        "country",
        "Country",
        "text",
        "Country, stored as an ISO 3166-1 alpha-2 code.",
        source=MAP,
        team=MARKETING,
        normalise="country",
    ),
    f("lead", "state", "State/region", "text", "State, province or region.", source=MAP, team=MARKETING),
    f("lead", "source", "Lead source", "text", "Where the lead came from (web form, event, …).", source=MAP),
    f("lead", "score", "Lead score", "integer", "Marketing fit and intent score, 0-100.", source=MAP),
    f(
        "lead",
        "status",
        "Status",
        "choice",
        "Where the lead is in qualification.",
        team=SALES,
        allowed_values=_choices(Lead.Status),
    ),
    f("lead", "owner", "Owner", "reference", "The rep working the lead.", reference_to="rep", team=SALES),
    f(
        "lead",
        "matched_account",
        "Matched account",
        "reference",
        "The account the portal matched the lead to.",
        reference_to="account",
        source=PORTAL,
    ),
    f(
        "lead",
        "converted_opportunity",
        "Converted to opportunity",
        "reference",
        "The opportunity the CRM converted the lead into: links a lead to its revenue.",
        reference_to="opportunity",
        source=MAP,
        team=SALES,
    ),
    *_common("contact"),
    f("contact", "account", "Account", "reference", "The account the person works at.", reference_to="account"),
    f("contact", "first_name", "First name", "text", "The contact's first name.", is_pii=True),
    f("contact", "last_name", "Last name", "text", "The contact's last name.", is_pii=True),
    f(
        "contact",
        "email",
        "Email",
        "email",
        "The contact's work email address.",
        is_pii=True,
        normalise="email",
    ),
    f(
        "contact",
        "phone",
        "Phone",
        "text",
        "Direct phone number, stored in E.164 (+14155550100); national numbers are read in the account's country.",
        is_pii=True,
        normalise="phone",
    ),
    f("contact", "title", "Job title", "text", "The contact's job title."),
    f(
        "contact",
        "roles",
        "Roles on the account",
        "multi_choice",
        "What the person is to the deal and the account: champion, executive sponsor, billing contact, "
        "decision maker (several allowed).",
        team=SALES,
        allowed_values=_choices(Contact.Role),
    ),
    f("contact", "is_active", "Active", "boolean", "False once the person left or stopped working with us."),
    f(
        "contact",
        "owner",
        "Owner",
        "reference",
        "The rep who owns the relationship, if the CRM sets one.",
        reference_to="rep",
    ),
    f(
        "contact",
        "converted_from_lead",
        "Converted from lead",
        "reference",
        "The lead the CRM converted into this contact; kept so the lead's history stays reachable.",
        reference_to="lead",
    ),
    *_common("opportunity"),
    f("opportunity", "name", "Opportunity name", "text", "Short name of the deal.", required="always", team=SALES),
    f("opportunity", "account", "Account", "reference", "The account buying.", reference_to="account"),
    f("opportunity", "owner", "Owner", "reference", "The rep who owns the deal.", reference_to="rep", team=SALES),
    f(
        "opportunity",
        "stage",
        "Stage",
        "choice",
        "The deal's stage in the sales process.",
        team=SALES,
        allowed_values=_choices(Opportunity.Stage),
    ),
    f(
        "opportunity",
        "forecast_category",
        "Forecast category",
        "choice",
        "How the rep forecasts the deal.",
        team=SALES,
        allowed_values=_choices(Opportunity.ForecastCategory),
    ),
    f("opportunity", "amount", "Amount", "decimal", "Deal value in USD.", team=SALES),
    f("opportunity", "close_date", "Close date", "date", "When the deal is expected to close.", team=SALES),
    f("opportunity", "next_step", "Next step", "text", "The next agreed step with the buyer.", team=SALES),
    f("opportunity", "next_step_date", "Next step date", "date", "When the next step happens.", team=SALES),
    f("opportunity", "last_activity_at", "Last activity", "datetime", "Time of the latest logged activity."),
    f("opportunity", "close_date_pushes", "Close-date pushes", "integer", "How often the close date moved out."),
    # Closed-won handoff fields: custom attributes, required once the deal is won.
    *[
        f(
            "opportunity",
            key,
            label,
            field_type,
            definition,
            core=False,
            team=team,
            required="from_stages",
            required_from=[Opportunity.Stage.CLOSED_WON],
            # A Won deal without its handoff context is stored, and the gap raised to a person.
            enforcement="prompt",
            **extra,
        )
        for key, label, field_type, definition, team, extra in [
            ("contract_start_date", "Contract start date", "date", "When the customer's contract starts.", FINANCE, {}),
            (
                "products_purchased",
                "Products purchased",
                "multi_choice",
                "The products on the signed order form.",
                FINANCE,
                {"allowed_values": ["platform", "analytics", "integrations", "premium_support", "services"]},
            ),
            ("use_case", "Use case", "text", "What the customer bought the product to do.", SALES, {}),
            ("success_criteria", "Success criteria", "text", "How the customer will judge success.", CS, {}),
            (
                "implementation_notes",
                "Implementation notes",
                "text",
                "What onboarding must know: systems, timelines, constraints.",
                CS,
                {},
            ),
            (
                "billing_contact",
                "Billing contact",
                "email",
                "Who receives invoices at the customer.",
                FINANCE,
                {"is_pii": True},
            ),
            (
                "executive_sponsor",
                "Executive sponsor",
                "text",
                "The customer's executive who owns the outcome.",
                CS,
                {"is_pii": True},
            ),
            (
                "sales_risks_promises",
                "Risks or promises made during sales",
                "text",
                "Anything promised or at risk that the receiving team must know.",
                SALES,
                {},
            ),
        ]
    ],
    *_common("activity"),
    f(
        "activity",
        "kind",
        "Kind",
        "choice",
        "Call, email, meeting, note or task.",
        allowed_values=_choices(Activity.Kind),
    ),
    f("activity", "subject", "Subject", "text", "Short description of the touch."),
    f("activity", "occurred_at", "Occurred at", "datetime", "When the touch happened.", required="always"),
    f("activity", "rep", "Rep", "reference", "The rep who made the touch.", reference_to="rep"),
    f("activity", "lead", "Lead", "reference", "The lead touched.", reference_to="lead"),
    f("activity", "opportunity", "Opportunity", "reference", "The opportunity touched.", reference_to="opportunity"),
    f("activity", "account", "Account", "reference", "The account touched.", reference_to="account"),
    f("task", "external_id", "CRM id", "text", "The task's id in the CRM once synced.", source=PORTAL),
    f("task", "title", "Title", "text", "What needs doing.", required="always", source=PORTAL),
    f("task", "description", "Description", "text", "Details and context.", source=PORTAL),
    f("task", "owner", "Owner", "reference", "Who must do it.", reference_to="rep", source=PORTAL),
    f("task", "due_at", "Due", "datetime", "When it is due.", source=PORTAL),
    f("task", "status", "Status", "choice", "Open, done or cancelled.", allowed_values=_choices(Task.Status)),
    f("task", "lead", "Lead", "reference", "The lead the task is about.", reference_to="lead", source=PORTAL),
    f(
        "task",
        "account",
        "Account",
        "reference",
        "The account the task is about.",
        reference_to="account",
        source=PORTAL,
    ),
    f(
        "task",
        "opportunity",
        "Opportunity",
        "reference",
        "The opportunity the task is about.",
        reference_to="opportunity",
        source=PORTAL,
    ),
]


# (object, key) -> normaliser of the default entries that have one (also set by the migration that
# introduced normalisers, on entries still at "none").
DEFAULT_NORMALISERS = {
    (entry["object_type"], entry["key"]): entry["normalise"] for entry in DEFAULT_FIELDS if entry.get("normalise")
}


def load_default_dictionary(field_definition_model) -> int:
    """Create the default entries that are missing; return how many were created."""
    existing = set(field_definition_model.objects.values_list("object_type", "key"))
    # An early migration loads the defaults through a historical model that lacks later fields.
    known = {f.name for f in field_definition_model._meta.get_fields()}
    missing = [
        field_definition_model(**{name: value for name, value in entry.items() if name in known})
        for entry in DEFAULT_FIELDS
        if (entry["object_type"], entry["key"]) not in existing
    ]
    field_definition_model.objects.bulk_create(missing)
    return len(missing)
