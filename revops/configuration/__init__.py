"""Configuration as code: export the whole configuration to one YAML file, plan and apply it.

``services`` holds the entry points (``config_export_text``, ``config_plan``, ``config_apply``);
``base`` the section interface; each section (``dictionary``, ``automations``…) lives in its
own module and registers itself with ``register_section``. Apps that add configuration
(routing rules, pools, SLA policies, checklists, queues) add a section the same way, imported
from their ``AppConfig.ready``. The file format is documented in docs/config.md.
"""

from . import dictionary  # noqa: F401  (registers the dictionary section; the engine and the apps add theirs)
from .base import Attr, Change, Entry, Plan, Problem, Run, Section, register_section, sections
from .services import (
    CONFIG_USER,
    VERSION,
    config_apply,
    config_export,
    config_export_json,
    config_export_text,
    config_plan,
    config_read,
)

__all__ = [
    "CONFIG_USER",
    "VERSION",
    "Attr",
    "Change",
    "Entry",
    "Plan",
    "Problem",
    "Run",
    "Section",
    "config_apply",
    "config_export",
    "config_export_json",
    "config_export_text",
    "config_plan",
    "config_read",
    "register_section",
    "sections",
]
