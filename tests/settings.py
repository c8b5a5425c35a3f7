"""Test settings: the project's settings plus a test-only workflow app that proves the plug-in points."""

from revops.settings import *  # noqa: F403
from revops.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.plugin_app"]
