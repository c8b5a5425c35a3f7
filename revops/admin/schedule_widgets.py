"""Working days and holidays edited without JSON: weekday checkboxes and a list of date pickers.

Both fields still accept the JSON text the earlier forms took (``[0, 1, 2, 3, 4]``,
``["2026-12-25"]``), so a list pasted from configuration as code works; they clean to the stored
shapes (sorted weekday numbers 0 = Monday … 6 = Sunday; sorted ISO dates without repeats).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from revops.admin.base import SafeJSONField

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MONDAY_TO_FRIDAY = [0, 1, 2, 3, 4]
BLANK_DATES = 2  # empty date pickers after the stored dates (more with "Add a date")


def _json_list(values) -> list | None:
    """The list inside ``values`` when it is one JSON text (``["[0, 1]"]`` or ``"[0, 1]"``), else None."""
    if isinstance(values, list | tuple) and len(values) == 1:
        values = values[0]
    if not isinstance(values, str) or not values.strip().startswith("["):
        return None
    parsed = SafeJSONField(required=False).to_python(values)  # hostile JSON: the same errors as elsewhere
    if not isinstance(parsed, list):
        raise ValidationError("Enter a list such as [0, 1, 2, 3, 4], or tick the boxes.", code="invalid")
    return parsed


class WeekdaysField(forms.TypedMultipleChoiceField):
    """Weekdays as checkboxes (Mon … Sun); cleans to sorted weekday numbers, 0 = Monday."""

    widget = forms.CheckboxSelectMultiple(attrs={"class": "rv-weekdays"})

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", WEEKDAYS)
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "initial", MONDAY_TO_FRIDAY
        )  # a new pool or calendar (a declared field loses the model's default)
        super().__init__(**kwargs)

    def to_python(self, value):
        parsed = _json_list(value)
        if parsed is not None:
            if not all(isinstance(d, int) and not isinstance(d, bool) for d in parsed):
                raise ValidationError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).", code="invalid")
            value = [str(d) for d in parsed]
        return super().to_python(value)

    def clean(self, value):
        return sorted(set(super().clean(value)))


class DateListWidget(forms.Widget):
    """One date picker per date, plus empty ones; ``revops/date_list.js`` adds more and removes rows."""

    template_name = "admin/revops/widgets/date_list.html"

    class Media:
        css = {"all": ("revops/date_list.css",)}
        js = ("revops/date_list.js",)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        dates = value if isinstance(value, list | tuple) else []
        context["dates"] = [str(d) for d in dates] + [""] * BLANK_DATES
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's template engine: the form renderer's own does not search templates/.
        return mark_safe(render_to_string(self.template_name, self.get_context(name, value, attrs)))

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return False


class DateListField(forms.Field):
    """A list of dates (YYYY-MM-DD): date pickers, or a JSON list pasted as text; cleans sorted, without repeats."""

    widget = DateListWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        parsed = _json_list(value)
        items = parsed if parsed is not None else value
        if items in (None, ""):
            return []
        if not isinstance(items, list | tuple):
            items = [items]
        out = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                out.append(dt.date.fromisoformat(text).isoformat())
            except ValueError:
                raise ValidationError(f"{text!r} is not a date (YYYY-MM-DD).", code="invalid") from None
        return sorted(set(out))

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != sorted({str(d) for d in initial or []})
        except ValidationError:
            return True


def time_input() -> forms.TimeInput:
    """A time field as the browser's time picker (HH:MM)."""
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
