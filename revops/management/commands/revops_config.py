"""``manage.py revops_config export|plan|apply``: the whole configuration as one YAML file.

    revops_config export [FILE|-]             write the configuration (default: standard output)
    revops_config plan FILE|-                 show what applying FILE would change (writes nothing)
    revops_config apply FILE|- [--yes]        show the plan, then apply it atomically

Exit status: 0 on success, 1 when the file has errors (nothing applied) or the apply was declined;
``plan --detailed-exitcode`` exits 2 when there are changes (for drift checks in CI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from revops.configuration import config_apply, config_export_text, config_plan


class Command(BaseCommand):
    help = "Export, plan or apply the whole configuration (data dictionary, automations…) as YAML. See docs/config.md."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="export|plan|apply")
        export = sub.add_parser("export", help="Write the configuration as YAML.")
        export.add_argument("file", nargs="?", default="-", help="Where to write it; '-' (default) for stdout.")
        for name, text in (("plan", "Show what applying FILE would change."), ("apply", "Apply FILE atomically.")):
            action = sub.add_parser(name, help=text)
            action.add_argument("file", help="The YAML file; '-' reads standard input.")
            action.add_argument("--json", action="store_true", help="Print the plan as JSON.")
            action.add_argument("--actor", help="Username the changes are attributed to (default: config-as-code).")
            if name == "plan":
                action.add_argument(
                    "--detailed-exitcode", action="store_true", help="Exit 2 when the plan has changes, 0 when none."
                )
            else:
                action.add_argument("--yes", action="store_true", help="Apply without asking for confirmation.")

    def handle(self, *args, action: str, file: str, **options):
        if action == "export":
            return self._export(file)
        text, source = self._read(file)
        actor = self._actor(options.get("actor"))
        if action == "apply" and options["yes"]:
            plan = config_apply(document=text, source=source, actor=actor)
        else:
            plan = config_plan(document=text, source=source, actor=actor)
        self._show(plan, as_json=options["json"])
        if not plan.ok:
            raise CommandError(f"{len(plan.problems)} error(s) in {source}; nothing was applied.")
        if action == "plan":
            if options["detailed_exitcode"] and plan.changes:
                sys.exit(2)
            return
        if plan.applied or not plan.changes:
            if plan.changes and not options["json"]:
                self.stdout.write(self.style.SUCCESS(f"Applied {source}."))
            return
        if file == "-" or not sys.stdin.isatty():
            raise CommandError("Not applied: pass --yes to apply without a terminal to confirm at.")
        if input("Apply these changes? Only 'yes' is accepted: ").strip() != "yes":
            raise CommandError("Not applied.")
        applied = config_apply(document=text, source=source, actor=actor)
        if not applied.applied:  # the configuration changed between the plan and the apply
            self._show(applied, as_json=options["json"])
            raise CommandError(f"{len(applied.problems)} error(s) in {source}; nothing was applied.")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(f"Applied {source}: {applied.summary()}"))

    def _export(self, file: str) -> None:
        text = config_export_text()
        if file == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {file}: {exc.strerror}") from None
        self.stderr.write(f"Wrote the configuration to {file}.")

    def _read(self, file: str) -> tuple[str, str]:
        if file == "-":
            return sys.stdin.read(), "stdin"
        try:
            return Path(file).read_text(encoding="utf-8"), Path(file).name
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None

    def _actor(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user with username {username!r} (--actor).")
        return user

    def _show(self, plan, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(plan.render(), ending="")
