"""``manage.py revops_config export|plan|apply``: the whole configuration as one YAML file.

    revops_config export [FILE|-]             write the configuration (default: standard output)
    revops_config plan FILE|-                 show what applying FILE would change (writes nothing)
    revops_config apply FILE|- [--yes]        show the plan, then apply it atomically
    revops_config releases [--json]           list the releases (each apply that changed something)
    revops_config compare A B                 what changed from release A to release B, in words
    revops_config rollback N --reason TEXT    show the plan back to release N, then apply it (a new release)

Exit status: 0 on success, 1 when the file (or the release rolled back to) has errors (nothing
applied) or the apply was declined;
``plan --detailed-exitcode`` exits 2 when there are changes (for drift checks in CI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from revops.configuration import config_apply, config_export_text, config_plan
from revops.configuration.releases import release_compare, release_compare_text
from revops.configuration.rollback import release_get, release_rollback
from revops.models import ConfigRelease


class Command(BaseCommand):
    help = "Export, plan or apply the whole configuration (data dictionary, automations…) as YAML. See docs/config.md."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="export|plan|apply|releases|compare|rollback")
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

        releases = sub.add_parser("releases", help="List the releases, newest first.")
        releases.add_argument("--json", action="store_true", help="Print them as JSON.")
        releases.add_argument("--limit", type=int, default=20, help="How many (default 20).")
        compare = sub.add_parser("compare", help="What changed from release A to release B.")
        compare.add_argument("a", type=int, help="The earlier release's number.")
        compare.add_argument("b", type=int, help="The later release's number.")
        compare.add_argument("--json", action="store_true", help="Print the comparison as JSON.")
        rollback = sub.add_parser("rollback", help="Apply release N's configuration again (a new release).")
        rollback.add_argument("number", type=int, help="The release to go back to.")
        rollback.add_argument("--reason", default="", help="Why (required to apply; kept with the new release).")
        rollback.add_argument("--json", action="store_true", help="Print the plan as JSON.")
        rollback.add_argument("--actor", help="Username the changes are attributed to (default: config-as-code).")
        rollback.add_argument("--yes", action="store_true", help="Apply without asking for confirmation.")

    def handle(self, *args, action: str, **options):
        if action == "releases":
            return self._releases(as_json=options["json"], limit=options["limit"])
        if action == "compare":
            return self._compare(options["a"], options["b"], as_json=options["json"])
        if action == "rollback":
            return self._rollback(options)
        file = options["file"]
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

    def _releases(self, *, as_json: bool, limit: int) -> None:
        rows = ConfigRelease.objects.select_related("created_by").order_by("-number")[: max(limit, 1)]
        if as_json:
            data = [
                {
                    "number": r.number,
                    "created_at": r.created_at.isoformat(),
                    "by": r.created_by.get_username() if r.created_by else None,
                    "source": r.source,
                    "reason": r.reason,
                    "summary": r.summary,
                    "rolled_back_to": r.rolled_back_to,
                }
                for r in rows
            ]
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
            return
        if not rows:
            self.stdout.write("No releases yet: each apply that changes the configuration records one.")
            return
        for r in rows:
            when = timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M")
            who = r.created_by.get_username() if r.created_by else "unknown"
            why = f" — {r.reason}" if r.reason else ""
            self.stdout.write(f"{r.number:>4}  {when}  {who}  {r.source}{why}: {r.summary}")

    def _compare(self, a: int, b: int, *, as_json: bool) -> None:
        try:
            old, new = release_get(a), release_get(b)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        changes = release_compare(old.document, new.document)
        if as_json:
            self.stdout.write(json.dumps(changes, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(f"From release {a} to release {b}:")
            self.stdout.write(release_compare_text(changes), ending="")

    def _rollback(self, options) -> None:
        number, reason, as_json = options["number"], options["reason"], options["json"]
        actor = self._actor(options.get("actor"))
        try:
            plan = release_rollback(number=number, actor=actor, reason=reason, dry_run=True)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self._show(plan, as_json=as_json)
        if not plan.ok:
            raise CommandError(
                f"{len(plan.problems)} error(s): release {number} cannot be applied again; nothing changed."
            )
        if not plan.changes:
            return
        if not reason.strip():
            raise CommandError("Not applied: say why with --reason (kept with the new release).")
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("Not applied: pass --yes to apply without a terminal to confirm at.")
            if input("Roll back? Only 'yes' is accepted: ").strip() != "yes":
                raise CommandError("Not applied.")
        applied = release_rollback(number=number, actor=actor, reason=reason)
        if not applied.applied:
            self._show(applied, as_json=as_json)
            raise CommandError(f"{len(applied.problems)} error(s); nothing was applied.")
        if not as_json:
            self.stdout.write(
                self.style.SUCCESS(f"Rolled back to release {number} as release {applied.release}: {applied.summary()}")
            )

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
