"""The revenue data dictionary: every field a record may carry, what it means and who owns it."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords


class ObjectType(models.TextChoices):
    TEAM = "team", "Team"
    REP = "rep", "Rep"
    ACCOUNT = "account", "Account"
    LEAD = "lead", "Lead"
    CONTACT = "contact", "Contact"
    OPPORTUNITY = "opportunity", "Opportunity"
    ACTIVITY = "activity", "Activity"
    TASK = "task", "Task"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "Yes/no"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    EMAIL = "email", "Email"
    URL = "url", "URL"
    REFERENCE = "reference", "Reference"


class SourceOfTruth(models.TextChoices):
    CRM = "crm", "CRM"
    BILLING = "billing", "Billing"
    PRODUCT_USAGE = "product_usage", "Product usage"
    MARKETING_AUTOMATION = "marketing_automation", "Marketing automation"
    ENRICHMENT = "enrichment", "Enrichment provider"
    PORTAL = "portal", "RevOps portal"
    MANUAL = "manual", "Manual entry"


class Required(models.TextChoices):
    NEVER = "never", "Optional"
    ALWAYS = "always", "Always"
    FROM_STAGES = "from_stages", "From given stages/statuses on"


class Enforcement(models.TextChoices):
    """What ingest does when a required field is missing."""

    REJECT = "reject", "Reject the record"
    PROMPT = "prompt", "Store the record and raise the gap"


class Normaliser(models.TextChoices):
    """How ingest rewrites a field's value before checking it (``revops.normalise``)."""

    NONE = "none", "Trimmed text only"
    COUNTRY = "country", "Country → ISO 3166-1 alpha-2 code"
    PHONE = "phone", "Phone number → E.164"
    EMAIL = "email", "E-mail address → lower case"
    DOMAIN = "domain", "Website or domain → registrable domain"


# The field types each normaliser applies to.
NORMALISER_TYPES = {
    Normaliser.COUNTRY: ("text",),
    Normaliser.PHONE: ("text",),
    Normaliser.EMAIL: ("text", "email"),
    Normaliser.DOMAIN: ("text", "url"),
}


class FieldDefinition(models.Model):
    """One entry of the data dictionary: an object's field, its meaning, type and owner.

    ``is_core`` fields are columns of the record's table; the others are custom attributes
    stored in the record's ``attributes`` JSON under ``key``. Ingest and rule conditions may
    only use fields defined here.
    """

    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    key = models.CharField(
        max_length=64,
        validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", "Use lower-case letters, digits and underscores.")],
    )
    label = models.CharField(max_length=120)
    definition = models.TextField(help_text="What the field means, in plain language.")
    field_type = models.CharField(max_length=20, choices=FieldType.choices)
    allowed_values = models.JSONField(
        default=list, blank=True, help_text="For choice and multiple-choice fields: the allowed values."
    )
    reference_to = models.CharField(
        max_length=20, choices=ObjectType.choices, blank=True, help_text="For reference fields: the target object."
    )
    required = models.CharField(max_length=20, choices=Required.choices, default=Required.NEVER)
    required_from = models.JSONField(
        default=list,
        blank=True,
        help_text="When required from given stages/statuses on: the stage or status values that require it.",
    )
    enforcement = models.CharField(
        max_length=10,
        choices=Enforcement.choices,
        default=Enforcement.REJECT,
        help_text=(
            "When the field is required but missing: reject the record (identity and type errors are always "
            "rejected), or store it and raise the gap to the accountable person (e.g. closed-won handoff fields)."
        ),
    )
    normalise = models.CharField(
        max_length=10,
        choices=Normaliser.choices,
        default=Normaliser.NONE,
        help_text=(
            "How ingest rewrites a value before checking it; the value the CRM sent is kept on the record "
            "(under 'values as sent') when it differs. Text is always trimmed."
        ),
    )
    source_of_truth = models.CharField(max_length=30, choices=SourceOfTruth.choices, default=SourceOfTruth.CRM)
    owning_team = models.CharField(max_length=80, help_text="The team accountable for this field's quality.")
    is_pii = models.BooleanField("PII", default=False)
    is_deprecated = models.BooleanField("deprecated", default=False)
    is_core = models.BooleanField(
        "core column", default=False, help_text="Core fields are table columns; others are custom attributes."
    )
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

    class Meta:
        ordering = ["object_type", "-is_core", "key"]
        constraints = [models.UniqueConstraint(fields=["object_type", "key"], name="dictionary_object_key_unique")]
        verbose_name = "dictionary field"

    def __str__(self):
        return f"{self.object_type}.{self.key}"

    def clean(self):
        errors = {}
        if self.field_type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
            if not isinstance(self.allowed_values, list) or not self.allowed_values:
                errors["allowed_values"] = "A choice field needs a non-empty list of allowed values."
            elif not all(isinstance(v, str) and v for v in self.allowed_values):
                errors["allowed_values"] = "Allowed values must be non-empty strings."
        elif self.allowed_values:
            errors["allowed_values"] = "Only choice and multiple-choice fields have allowed values."
        if self.field_type == FieldType.REFERENCE and not self.reference_to:
            errors["reference_to"] = "A reference field must name the object it points to."
        if self.field_type != FieldType.REFERENCE and self.reference_to:
            errors["reference_to"] = "Only reference fields point to another object."
        if self.required == Required.FROM_STAGES:
            if not self.required_from or not isinstance(self.required_from, list):
                errors["required_from"] = "List the stages or statuses from which the field is required."
        elif self.required_from:
            errors["required_from"] = "Stages/statuses only apply when 'required' is 'from given stages on'."
        if self.normalise and self.normalise != Normaliser.NONE:
            types = NORMALISER_TYPES.get(self.normalise, ())
            if self.field_type not in types:
                allowed = " or ".join(FieldType(t).label.lower() for t in types)
                errors["normalise"] = (
                    f"The {Normaliser(self.normalise).label.split(' →')[0].lower()} normaliser only applies to "
                    f"{allowed} fields."
                )
        if errors:
            raise ValidationError(errors)
