"""The layer contracts cover every app: a new workflow app in INSTALLED_APPS must be placed in the
import-linter layers (pyproject.toml) or `make lint` would not check it (docs/architecture.md)."""

import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def test_every_local_app_is_in_a_layer_and_workflow_apps_are_independent():
    layered = {name.strip() for layer in _contract("layers")["layers"] for name in layer.replace("|", ":").split(":")}
    local = [app for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()]
    assert {"revops", "exceptions", "routing", "handoffs"} <= set(local)
    for app in local:
        if app == "revops":  # split module by module into wiring, engine and core
            assert {"revops.engine", "revops.models", "revops.urls"} <= layered
            continue
        assert app in layered, f"{app} is in INSTALLED_APPS but in no layer of pyproject.toml's import contracts"
    workflow = [name.strip() for name in _contract("layers")["layers"][1].split("|")]
    assert set(_contract("workflow-apps-independent")["modules"]) == set(workflow)
