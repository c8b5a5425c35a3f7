"""Form controls of the checklist admin: rows instead of JSON boxes.

Each of a checklist's JSON fields (``conditions``, ``required_fields``, ``attestations``, ``tasks``)
is edited by an *editor*: a Django formset of rows bound to the POST, with the stored value as its
initial rows, rendered inside the admin's fieldset by ``RowsWidget`` and cleaned by ``RowsField``
into exactly the shape the model stores. Conditions are rows of (field, comparison, value) joined
by "all" or "any"; a required field's "only when" is one such comparison. A stored condition the
rows cannot show (nested groups, "not") is kept as it is unless the person replaces it.
Rows are matched to the stored entries by position (rows are only removed, never reordered), which
keeps an attestation's key stable when its label changes.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from revops.conditions import OPS_BY_TYPE, RELATIONS, ConditionError, clean_condition, render
from revops.conditions.schema import DAY_OPS, LIST_OPS, NO_VALUE_OPS, load_fields

from .models import Checklist
from .services import subject_type_of

OPERATORS = (  # the editor's comparisons; 'changed' / 'changed to' mean nothing for a stored record
    ("eq", "is"),
    ("ne", "is not"),
    ("in", "is one of"),
    ("not_in", "is not one of"),
    ("gt", "is more than"),
    ("gte", "is at least"),
    ("lt", "is less than"),
    ("lte", "is at most"),
    ("between", "is between"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is filled in"),
    ("older_than_days", "is more than N days ago"),
    ("within_days", "is within N days of today"),
)
OPERATOR_LABELS = dict(OPERATORS)
OBJECT_NAMES = {"opportunity": "Deal", "account": "Account", "rep": "Owner"}
KIND_OBJECTS = " ".join(f"{kind}:{subject_type_of(Checklist(kind=kind))}" for kind in Checklist.Kind.values)
ROW_PROBLEMS = "Some rows need a fix: see the message on each of them."


# --- field lists ---------------------------------------------------------------------------------


def _fields_of(object_type: str) -> list[tuple[str, str]]:
    """(key, label) of the dictionary's fields of ``object_type``, by label."""
    fields = load_fields()
    return sorted(
        ((key, spec.label) for (obj, key), spec in fields.items() if obj == object_type), key=lambda c: c[1].lower()
    )


def key_choices(extra: list[str] = ()) -> tuple[list, dict]:
    """Required-field choices: deal fields and account fields (the checklist's kind picks one group),
    keys as values; plus stored keys the dictionary no longer has, so the form still shows them."""
    choices, groups = [("", "—")], {}
    known = set()
    for object_type in ("opportunity", "account"):
        options = _fields_of(object_type)
        known.update(key for key, _ in options)
        group = f"{OBJECT_NAMES[object_type]} fields"
        choices.append((group, options))
        groups[group] = object_type
    missing = [(key, f"{key} (not in the data dictionary)") for key in extra if key and key not in known]
    if missing:
        choices.append(("Not in the dictionary", missing))
    return choices, groups


def path_choices() -> tuple[list, dict]:
    """Condition field choices: for deals and accounts, their own fields and one relation away."""
    choices, groups = [("", "—")], {}
    for object_type in ("opportunity", "account"):
        name = OBJECT_NAMES[object_type]
        group = f"{name} fields"
        choices.append((group, [(f"{object_type}.{key}", label) for key, label in _fields_of(object_type)]))
        groups[group] = object_type
        for relation, target in RELATIONS[object_type].items():
            group = f"{name}'s {relation.replace('_', ' ')}" + (" account" if relation == "parent" else "")
            options = [
                (f"{object_type}.{relation}.{key}", f"{label} ({relation})") for key, label in _fields_of(target)
            ]
            choices.append((group, options))
            groups[group] = object_type
    return choices, groups


class FieldSelect(forms.Select):
    """A select whose options say (``data-object``) whose fields they are: the page's script shows only
    those of the checklist's kind (deal or account)."""

    def __init__(self, *args, groups=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = groups or {}

    def optgroups(self, name, value, attrs=None):
        result = super().optgroups(name, value, attrs)
        for group_name, options, _index in result:
            if group_name in self.groups:
                for option in options:
                    option["attrs"]["data-object"] = self.groups[group_name]
        return result


# --- one comparison ------------------------------------------------------------------------------


def _spec(path: str):
    parts = path.split(".")
    target = parts[0] if len(parts) == 2 else RELATIONS.get(parts[0], {}).get(parts[1], "")
    return load_fields().get((target, parts[-1]))


def _value(text: str, op: str, field_type: str):
    """The typed value as the condition language wants it (lists for 'one of', pairs for 'between')."""
    if op in DAY_OPS:
        try:
            return int(text)
        except ValueError:
            raise ValidationError("Give a whole number of days, e.g. 30.") from None
    if op in LIST_OPS or op == "between":
        items = [part.strip() for part in text.split(",") if part.strip()]
        if op == "between" and len(items) != 2:
            raise ValidationError("Give the lowest and the highest value separated by a comma, e.g. 10, 20.")
        return [_scalar(item, field_type) for item in items]
    return _scalar(text, field_type)


def _scalar(text: str, field_type: str):
    if field_type != "boolean":
        return text
    answer = text.lower()
    if answer in ("yes", "true", "1"):
        return True
    if answer in ("no", "false", "0"):
        return False
    raise ValidationError("Answer yes or no.")


def comparison(path: str, op: str, text: str, *, object_type: str) -> dict:
    """One comparison (a condition leaf) from a row, checked against the dictionary; plain-language errors."""
    if not path.startswith(f"{object_type}."):
        kind = "deal" if object_type == "opportunity" else "account"
        raise ValidationError(f"This checklist is about {kind}s: choose a {kind} field.")
    spec = _spec(path)
    if spec is None:
        raise ValidationError("Choose a field from the list.")
    if op not in OPS_BY_TYPE.get(spec.field_type, ()):
        allowed = ", ".join(f"“{label}”" for code, label in OPERATORS if code in OPS_BY_TYPE.get(spec.field_type, ()))
        raise ValidationError(f"“{OPERATOR_LABELS.get(op, op)}” does not apply to {spec.label}; use {allowed}.")
    leaf = {"field": path, "op": op}
    if op not in NO_VALUE_OPS:
        text = (text or "").strip()
        if not text:
            raise ValidationError(f"Give the value to compare {spec.label} with.")
        leaf["value"] = _value(text, op, spec.field_type)
    try:
        return clean_condition(leaf, object_type=object_type)
    except ConditionError as exc:
        raise ValidationError(" ".join(message[:1].upper() + message[1:] + "." for message in exc.messages)) from None


def value_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    return str(value)


def leaves_of(tree) -> tuple[str, list[dict]] | None:
    """("all"/"any", rows) for a tree the rows can show, None for one they cannot (it is kept)."""
    if not tree:
        return "all", []
    if not isinstance(tree, dict):
        return None
    if "field" in tree:
        match, nodes = "all", [tree]
    elif len(tree) == 1 and isinstance(tree.get("all", tree.get("any")), list):
        match, nodes = next(iter(tree.items()))
    else:
        return None
    rows = []
    for node in nodes:
        if not isinstance(node, dict) or set(node) - {"field", "op", "value"} or node.get("op") not in OPERATOR_LABELS:
            return None
        rows.append({"field": node.get("field"), "op": node["op"], "value": value_text(node.get("value"))})
    return match, rows


def tree_text(tree, object_type: str) -> str:
    try:
        return render(tree, object_type=object_type)
    except ValidationError:
        return "a condition that no longer matches the data dictionary"


# --- rows ----------------------------------------------------------------------------------------


class RowForm(forms.Form):
    """A row of an editor; ``editor`` gives it its choices and the checklist's object type."""

    note = ""  # shown under the row (e.g. a kept condition)

    def __init__(self, *args, editor, **kwargs):
        super().__init__(*args, **kwargs)
        self.editor = editor
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", field.label)


def _op_field(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=OPERATORS, initial="eq", required=False)


def _path_field(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        required=False,
        error_messages={"invalid_choice": "Choose a field from the list (“%(value)s” is not in the data dictionary)."},
    )


class ConditionRowForm(RowForm):
    field = _path_field("Field")
    op = _op_field("Comparison")
    value = forms.CharField(label="Value", required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices, groups = self.editor.path_choices
        self.fields["field"].choices = choices
        self.fields["field"].widget = FieldSelect(choices=choices, groups=groups, attrs={"aria-label": "Field"})
        self.fields["value"].widget.attrs["placeholder"] = "e.g. 50000 or US, CA"

    def clean(self):
        data = super().clean()
        if not data.get("field"):
            raise ValidationError("Choose a field, or tick Remove.")
        data["leaf"] = comparison(
            data["field"], data.get("op") or "eq", data.get("value", ""), object_type=self.editor.object_type
        )
        return data


class RequiredFieldRowForm(RowForm):
    field = forms.ChoiceField(
        label="Field",
        required=False,
        error_messages={"invalid_choice": "Choose a field from the list (“%(value)s” is not in the data dictionary)."},
    )
    when_field = _path_field("Only when")
    when_op = _op_field("Comparison")
    when_value = forms.CharField(label="Value", required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices, groups = key_choices(self.editor.stored_keys)
        self.fields["field"].choices = choices
        self.fields["field"].widget = FieldSelect(choices=choices, groups=groups, attrs={"aria-label": "Field"})
        when_choices, when_groups = self.editor.path_choices
        when_choices = [("", "— always —"), *when_choices[1:]]
        self.fields["when_field"].choices = when_choices
        self.fields["when_field"].widget = FieldSelect(
            choices=when_choices, groups=when_groups, attrs={"aria-label": "Only when"}
        )
        kept = self.initial.get("kept_when")
        if kept:
            self.note = (
                f"Only when: {tree_text(kept, self.editor.object_type)} (kept as it is; choose a field under "
                "“Only when” to replace it)."
            )

    def clean(self):
        data = super().clean()
        key = data.get("field")
        if not key:
            raise ValidationError("Choose a field, or tick Remove.")
        object_type = self.editor.object_type
        if key not in {k for k, _ in _fields_of(object_type)}:
            plural = "accounts" if object_type == "account" else "deals"
            self.add_error("field", f"“{key}” is not a field of {plural} in the data dictionary.")
            return data
        entry = {"field": key}
        if data.get("when_field"):
            try:
                leaf = comparison(
                    data["when_field"], data.get("when_op") or "eq", data.get("when_value", ""), object_type=object_type
                )
            except ValidationError as exc:
                self.add_error("when_field", exc)
                return data
            entry["when"] = {"all": [leaf]}
        elif self.initial.get("kept_when"):
            entry["when"] = self.initial["kept_when"]
        data["entry"] = entry
        return data


class AttestationRowForm(RowForm):
    label = forms.CharField(label="What must be confirmed", max_length=200, required=False)
    role = forms.CharField(label="Who confirms it (role)", max_length=80, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].widget.attrs["placeholder"] = "e.g. Risks and promises reviewed with the CSM"
        self.fields["role"].widget.attrs["placeholder"] = "e.g. CSM"

    def clean(self):
        data = super().clean()
        if not (data.get("label") or "").strip():
            raise ValidationError("Say what must be confirmed, or tick Remove.")
        return data


class TaskRowForm(RowForm):
    title = forms.CharField(label="Task", max_length=200, required=False)
    due_in_days = forms.IntegerField(
        label="Due in (days)",
        min_value=0,
        max_value=3650,
        required=False,
        error_messages={"invalid": "Give a whole number of days."},
    )
    description = forms.CharField(label="Description (optional)", max_length=2000, required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("title") or "").strip():
            raise ValidationError("Give the task a title, or tick Remove.")
        return data


class RowsFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove"
        form.fields["DELETE"].widget.attrs.update({"aria-label": "Remove", "class": "rv-row-remove"})


# --- editors -------------------------------------------------------------------------------------


class Editor:
    """One JSON field as rows: ``rows_of(stored)`` → initial rows; ``build(kept row forms)`` → stored value."""

    form_class: type[RowForm]
    empty: object = list
    add_label = "Add a row"

    def __init__(self, name: str, *, value, data, object_type: str):
        self.name = name
        self.object_type = object_type
        self.stored = value if value is not None else self.empty()
        self.head = None
        self.setup(data)
        formset_class = forms.formset_factory(self.form_class, formset=RowsFormSet, extra=1, can_delete=True)
        self.formset = formset_class(data, prefix=name, initial=self.rows_of(self.stored), form_kwargs={"editor": self})

    def setup(self, data) -> None:
        pass

    @cached_property
    def path_choices(self) -> tuple[list, dict]:
        return path_choices()  # once per editor, not once per row

    @property
    def kind_objects(self) -> str:
        return KIND_OBJECTS

    def rows_of(self, stored) -> list[dict]:
        return list(stored) if isinstance(stored, list) else []

    def kept_forms(self) -> list[RowForm]:
        """The rows that stay: stored rows not removed, and new rows something was typed into."""
        forms_ = []
        initial = self.formset.initial_form_count()
        for index, form in enumerate(self.formset.forms):
            if form.cleaned_data.get("DELETE") or (index >= initial and not form.has_changed()):
                continue
            forms_.append(form)
        return forms_

    def clean(self):
        if not self.formset.is_valid() or (self.head is not None and not self.head.is_valid()):
            raise ValidationError(ROW_PROBLEMS)
        return self.build(self.kept_forms())

    def build(self, forms_):
        raise NotImplementedError


class ConditionsHead(forms.Form):
    match = forms.ChoiceField(
        label="Applies when",
        choices=(("all", "all of these hold"), ("any", "any of these holds")),
        initial="all",
    )
    replace = forms.BooleanField(label="Drop the current condition (conditions added below replace it)", required=False)


class ConditionsEditor(Editor):
    form_class = ConditionRowForm
    empty = dict
    add_label = "Add a condition"

    def setup(self, data):
        shown = leaves_of(self.stored)
        self.kept = None if shown else self.stored
        self.kept_text = tree_text(self.stored, self.object_type) if self.kept else ""
        self.head = ConditionsHead(data, prefix=self.name, initial={"match": shown[0] if shown else "all"})
        if not self.kept:
            del self.head.fields["replace"]

    def rows_of(self, stored):
        shown = leaves_of(stored)
        return shown[1] if shown else []

    def build(self, forms_):
        leaves = [form.cleaned_data["leaf"] for form in forms_]
        if self.kept and not leaves and not self.head.cleaned_data.get("replace"):
            return self.kept  # rows typed below replace it; so does ticking "drop"
        return {self.head.cleaned_data["match"]: leaves} if leaves else {}


class RequiredFieldsEditor(Editor):
    form_class = RequiredFieldRowForm
    add_label = "Add a required field"

    @property
    def stored_keys(self) -> list[str]:
        return [entry.get("field", "") for entry in self.rows_of(self.stored) if isinstance(entry, dict)]

    def rows_of(self, stored):
        rows = []
        for entry in super().rows_of(stored):
            entry = entry if isinstance(entry, dict) else {}
            row = {"field": entry.get("field", "")}
            shown = leaves_of(entry.get("when"))
            if entry.get("when") and shown and len(shown[1]) == 1 and shown[0] == "all":
                leaf = shown[1][0]
                row.update(when_field=leaf["field"], when_op=leaf["op"], when_value=leaf["value"])
            elif entry.get("when"):
                row["kept_when"] = entry["when"]
            rows.append(row)
        return rows

    def build(self, forms_):
        return [form.cleaned_data["entry"] for form in forms_]


class AttestationsEditor(Editor):
    form_class = AttestationRowForm
    add_label = "Add an attestation"

    def build(self, forms_):
        used = {form.initial["key"] for form in forms_ if form.initial.get("key")}
        result = []
        for number, form in enumerate(forms_, 1):
            key = form.initial.get("key")
            if not key:  # a new attestation: its key comes from the label and never changes after
                base = slugify(form.cleaned_data["label"]).replace("-", "_")[:60] or f"attestation_{number}"
                key, n = base, 2
                while key in used:
                    key, n = f"{base}_{n}", n + 1
                used.add(key)
            result.append(
                {"key": key, "label": form.cleaned_data["label"].strip(), "role": form.cleaned_data["role"].strip()}
            )
        return result


class TasksEditor(Editor):
    form_class = TaskRowForm
    add_label = "Add a task"

    def build(self, forms_):
        result = []
        for form in forms_:
            data = form.cleaned_data
            task = {"title": data["title"].strip()}
            if data.get("due_in_days") is not None:
                task["due_in_days"] = data["due_in_days"]
            if (data.get("description") or "").strip():
                task["description"] = data["description"].strip()
            result.append(task)
        return result


EDITORS = {
    "conditions": ConditionsEditor,
    "required_fields": RequiredFieldsEditor,
    "attestations": AttestationsEditor,
    "tasks": TasksEditor,
}


# --- the form field ------------------------------------------------------------------------------


class RowsWidget(forms.Widget):
    """Renders an editor's rows inside the admin's fieldset; the POST is read by the editor's formset."""

    template_name = "admin/handoffs/checklist/rows.html"
    editor: Editor | None = None

    class Media:
        css = {"all": ("handoffs/checklist_form.css",)}
        js = ("handoffs/checklist_form.js",)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["editor"] = self.editor
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's template engine: the form renderer's own does not search templates/.
        return mark_safe(render_to_string(self.template_name, self.get_context(name, value, attrs)))

    def value_from_datadict(self, data, files, name):
        return None

    def value_omitted_from_data(self, data, files, name):
        return False


class RowsField(forms.Field):
    """A checklist JSON field edited by an ``Editor`` (set by the form): cleans to the stored shape."""

    widget = RowsWidget
    editor: Editor | None = None

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value):
        return self.editor.clean()

    def has_changed(self, initial, data):
        try:
            return self.editor.clean() != (initial if initial is not None else self.editor.empty())
        except ValidationError:
            return True


def attach_editors(form: forms.ModelForm, object_type: str) -> None:
    """Give each of the checklist form's ``RowsField`` its editor, bound to the form's data."""
    for name, editor_class in EDITORS.items():
        if name not in form.fields:
            continue
        editor = editor_class(
            name,
            value=getattr(form.instance, name),
            data=form.data if form.is_bound else None,
            object_type=object_type,
        )
        field = form.fields[name]
        field.editor = field.widget.editor = editor
