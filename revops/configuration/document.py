"""Reading and writing configuration documents: YAML (or JSON) text ⇄ plain Python data.

Output is deterministic so that export → apply → export is byte-identical: keys in the order
the sections declare, nested maps (conditions, config) sorted, multi-line text as literal
blocks, no line folding, no aliases. Input refuses YAML aliases (``&a``/``*a``), which only
make a configuration harder to read and can blow up in size.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import yaml

HEADER = (
    "# RevOps portal configuration as code (format: docs/config.md).\n"
    "# Preview with `manage.py revops_config plan FILE`, apply with `manage.py revops_config apply FILE`.\n"
)


class DocumentError(ValueError):
    """The text is not a YAML/JSON document; ``str(exc)`` says where and why."""


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without aliases."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not supported in configuration files", event.start_mark
            )
        return super().compose_node(parent, index)


class _Dumper(yaml.SafeDumper):
    """Block style everywhere, literal blocks for multi-line text, never aliases."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        # Indent list items under their key ("key:\n  - item"), as most YAML style guides do.
        return super().increase_indent(flow, False)


def _str_representer(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def load_text(text: str | bytes, *, content_type: str = "yaml") -> Any:
    """Parse a document; ``content_type`` is ``"yaml"`` (which also reads JSON) or ``"json"``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"the document is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if content_type == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise DocumentError(f"{where}invalid YAML: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise DocumentError(f"invalid YAML: {exc}") from None


def dump_text(data: dict[str, Any]) -> str:
    """The YAML text of an exported configuration, header comment included."""
    body = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )
    return HEADER + body


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO strings, for JSON answers."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def sorted_deep(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (JSON columns do not keep key order)."""
    if isinstance(value, dict):
        return {key: sorted_deep(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_deep(item) for item in value]
    return value
