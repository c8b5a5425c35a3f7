"""API serializers: record reads, the changes feed, and the sync request/response shapes (for the schema).

References to other records are shown as the other record's ``external_id`` — the same form the
CRM sends in sync requests — so a client never needs the portal's own ids (tasks excepted: a task
an automation created has no CRM id until the CRM syncs it back, so tasks also show ``id``).
"""

from rest_framework import serializers

from revops.models import Account, Activity, ChangeEntry, Contact, Lead, Opportunity, Rep, Task, Team


def ref(**kwargs):
    """A reference rendered as the referenced record's external id (null when unset)."""
    return serializers.SlugRelatedField(slug_field="external_id", read_only=True, allow_null=True, **kwargs)


def owner_name_field():
    return serializers.CharField(source="owner.name", read_only=True, allow_null=True, help_text="The owner's name.")


RECORD_FIELDS = ["external_id", "source_updated_at", "created_at", "updated_at"]


class TeamSerializer(serializers.ModelSerializer):
    manager = ref(help_text="Rep external id.")
    parent = ref(help_text="Parent team external id.")

    class Meta:
        model = Team
        fields = [*RECORD_FIELDS, "name", "manager", "parent", "region", "segment"]


class RepSerializer(serializers.ModelSerializer):
    manager = ref(help_text="Manager's rep external id.")
    team = ref(help_text="Team external id.")
    segments = serializers.ListField(child=serializers.CharField(), read_only=True)
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Rep
        fields = [
            *RECORD_FIELDS,
            "name",
            "email",
            "title",
            "manager",
            "team",
            "region",
            "segments",
            "is_active",
            "out_of_office_until",
            "time_zone",
            "attributes",
        ]


class AccountSerializer(serializers.ModelSerializer):
    parent = ref(help_text="Parent account external id.")
    owner = ref(help_text="Owner's rep external id.")
    owner_name = owner_name_field()
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Account
        fields = [
            *RECORD_FIELDS,
            "name",
            "domain",
            "website",
            "industry",
            "employees",
            "annual_revenue",
            "country",
            "state",
            "parent",
            "owner",
            "owner_name",
            "is_named",
            "customer_status",
            "attributes",
        ]


class LeadSerializer(serializers.ModelSerializer):
    owner = ref(help_text="Owner's rep external id.")
    owner_name = owner_name_field()
    matched_account = ref(help_text="External id of the account this lead was matched to.")
    converted_opportunity = ref(help_text="External id of the opportunity the CRM converted the lead into.")
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Lead
        fields = [
            *RECORD_FIELDS,
            "email",
            "first_name",
            "last_name",
            "company",
            "domain",
            "title",
            "country",
            "state",
            "source",
            "score",
            "status",
            "owner",
            "owner_name",
            "matched_account",
            "converted_opportunity",
            "attributes",
        ]


class LeadDetailSerializer(LeadSerializer):
    """A lead with its latest routing decision and the explanation (null until routing decided), and the
    contacts the CRM converted it into."""

    latest_decision = serializers.SerializerMethodField()
    converted_contacts = serializers.SerializerMethodField(
        help_text="External ids of the contacts the CRM converted this lead into (usually one)."
    )

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "converted_contacts", "latest_decision"]

    def get_latest_decision(self, lead) -> dict | None:
        return self.context.get("latest_decision")

    def get_converted_contacts(self, lead) -> list[str]:
        return list(lead.converted_contacts.order_by("pk").values_list("external_id", flat=True))


class ContactSerializer(serializers.ModelSerializer):
    account = ref(help_text="Account external id.")
    account_name = serializers.CharField(
        source="account.name", read_only=True, allow_null=True, help_text="The account's name."
    )
    owner = ref(help_text="Owner's rep external id (when the CRM sets one).")
    owner_name = owner_name_field()
    converted_from_lead = ref(help_text="External id of the lead the CRM converted into this contact.")
    roles = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Roles on the account: champion, executive_sponsor, billing_contact, decision_maker.",
    )
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Contact
        fields = [
            *RECORD_FIELDS,
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "account",
            "account_name",
            "roles",
            "is_active",
            "owner",
            "owner_name",
            "converted_from_lead",
            "attributes",
        ]


class OpportunitySerializer(serializers.ModelSerializer):
    account = ref(help_text="Account external id.")
    owner = ref(help_text="Owner's rep external id.")
    owner_name = owner_name_field()
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Opportunity
        fields = [
            *RECORD_FIELDS,
            "name",
            "account",
            "owner",
            "owner_name",
            "stage",
            "forecast_category",
            "amount",
            "close_date",
            "next_step",
            "next_step_date",
            "last_activity_at",
            "close_date_pushes",
            "attributes",
        ]


class ActivitySerializer(serializers.ModelSerializer):
    rep = ref(help_text="Rep external id.")
    lead = ref(help_text="Lead external id.")
    opportunity = ref(help_text="Opportunity external id.")
    account = ref(help_text="Account external id.")
    attributes = serializers.DictField(read_only=True, help_text="Custom fields by data dictionary key.")

    class Meta:
        model = Activity
        fields = [
            *RECORD_FIELDS,
            "kind",
            "subject",
            "occurred_at",
            "rep",
            "lead",
            "opportunity",
            "account",
            "attributes",
        ]


class TaskSerializer(serializers.ModelSerializer):
    owner = ref(help_text="Owner's rep external id.")
    owner_name = owner_name_field()
    lead = ref(help_text="Lead external id.")
    account = ref(help_text="Account external id.")
    opportunity = ref(help_text="Opportunity external id.")

    class Meta:
        model = Task
        fields = [
            "id",
            "external_id",
            "title",
            "description",
            "owner",
            "owner_name",
            "due_at",
            "status",
            "lead",
            "account",
            "opportunity",
            "created_by_automation",
            "created_at",
            "updated_at",
        ]


# --- changes feed ---------------------------------------------------------------------------


class ChangeEntrySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True, help_text="The entry's cursor: pass it as `after` to continue.")
    payload = serializers.DictField(read_only=True, help_text="What to apply, depending on `kind`.")

    class Meta:
        model = ChangeEntry
        fields = ["id", "kind", "object_type", "external_id", "payload", "reason", "created_at"]


class ChangesQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, default=0, help_text="Return entries after this cursor (0 or omitted: from the start)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100, help_text="At most this many entries.")


class ChangesPageSerializer(serializers.Serializer):
    results = ChangeEntrySerializer(many=True)
    next_cursor = serializers.IntegerField(help_text="Pass as `after` on the next poll (the last entry's id).")
    has_more = serializers.BooleanField(help_text="True when more entries are already waiting.")


# --- sync (request/response shapes, for the schema of POST /api/v1/sync/<object>/) ------------


class SyncRequestSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "Records to upsert. Each needs `external_id` and `source_updated_at` (ISO 8601); core and custom "
            "fields by data dictionary key; references (owner, account, manager…) by the other record's external_id."
        ),
    )


class SyncResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the record in the request.")
    external_id = serializers.CharField(allow_null=True, allow_blank=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "stale", "rejected"])
    changed_fields = serializers.ListField(child=serializers.CharField(), required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For rejected records: {field: [messages]}.",
    )
    missing = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=(
            "For stored records that lack required fields whose dictionary enforcement is 'prompt' (the "
            "closed-won handoff fields by default): {field: [messages]}. The record is stored and the gap "
            "raised to a person."
        ),
    )


class SyncResponseSerializer(serializers.Serializer):
    batch = serializers.IntegerField(allow_null=True, help_text="Id of the sync batch (visible in the admin).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Number of records per status.")
    results = SyncResultSerializer(many=True)


# --- errors (for the schema) ------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RateLimitedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(allow_null=True, help_text="Seconds to wait; also in Retry-After.")
