"""``manage.py ensure_admin``: make sure a superuser exists and say how to log in.

The password is shown once and stored only as a hash. On the first run the command creates the
superuser with a random password (or ``DJANGO_SUPERUSER_PASSWORD``) and prints it; later runs
print the username and how to reset the password. ``--reset-password`` gives the user a new random
password and prints it once. Safe to run on every start.

``--manager`` does the same for an existing non-superuser (the demo's ``manager.na``): a user
without a usable password gets a random one, printed once as ``Manager login: <username> / <password>``.

Older versions kept the generated logins in plain text in ``DATA_DIR/*-login.txt``; every run
deletes such files (the passwords in them keep working until reset).
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

RESET_HINT = "reset it with `scripts/manage.sh ensure_admin{flags} --reset-password` (prints a new one once)"


class Command(BaseCommand):
    help = "Create the superuser if missing (random password, printed once, stored only as a hash) and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")
        parser.add_argument(
            "--reset-password", action="store_true", help="Give the user a new random password and print it once."
        )
        parser.add_argument(
            "--manager",
            action="store_true",
            help="Print the login of an existing non-superuser (e.g. the demo's manager.na), setting a password if it has none.",
        )

    def handle(self, *args, username, email, reset_password, manager=False, **options):
        User = get_user_model()
        if manager:
            old_logins = self._remove_plaintext_logins(keep=lambda name: name != username)
            self._manager_login(username, reset_password, old_logins.get(username))
            return
        # Another user's file is left for `ensure_admin --manager --username <name>`, which shows its
        # password one last time (make run calls both).
        old_logins = self._remove_plaintext_logins(
            keep=lambda name: (
                name != username and User.objects.filter(**{User.USERNAME_FIELD: name}, is_superuser=False).exists()
            )
        )
        flags = "" if username == "admin" else f" --username {username}"
        with transaction.atomic():
            user = User.objects.select_for_update().filter(**{User.USERNAME_FIELD: username}).first()
            if user is None:
                chosen = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
                password = chosen or secrets.token_urlsafe(12)
                User.objects.create_superuser(username, email, password)
                self.stdout.write(f"Username: {username}")
                if chosen:
                    self.stdout.write("Password: the one in DJANGO_SUPERUSER_PASSWORD (superuser created)")
                else:
                    self.stdout.write(f"Password: {password}")
                    self.stdout.write("          (superuser created; shown this once, stored only as a hash)")
                return
            if reset_password:
                password = self._new_password(user)
                self.stdout.write(f"Username: {username}")
                self.stdout.write(f"Password: {password}")
                self.stdout.write("          (password reset; shown this once, stored only as a hash)")
                return

        self.stdout.write(f"Username: {username}")
        old = old_logins.get(username)
        if old and user.check_password(old):
            self.stdout.write(f"Password: {old}")
            self.stdout.write(
                "          (from the plain-text login file of an older version, now deleted: shown this last time)"
            )
            return
        self.stdout.write(f"Password: (shown once when it was set; {RESET_HINT.format(flags=flags)})")

    def _manager_login(self, username, reset_password, old_password):
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            self.stdout.write(f"Manager login: none ({username} does not exist; load the demo first)")
            return
        # The demo's other logins (a sales rep) say what they are.
        what = "Manager login" if user.groups.filter(name="Manager").exists() else "Demo login"
        if user.has_usable_password() and not reset_password:
            if old_password and user.check_password(old_password):
                self.stdout.write(f"{what}: {username} / {old_password} (from an old login file, now deleted)")
                return
            hint = RESET_HINT.format(flags=f" --manager --username {username}")
            self.stdout.write(f"{what}: {username} (password shown once when it was set; {hint})")
            return
        password = self._new_password(user)
        self.stdout.write(f"{what}: {username} / {password} (shown this once)")

    @staticmethod
    def _new_password(user) -> str:
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        return password

    def _remove_plaintext_logins(self, *, keep) -> dict[str, str]:
        """Delete ``DATA_DIR/*-login.txt`` left by older versions (but those of users ``keep`` names).

        Return the passwords found in them by username.
        """
        found = {}
        for path in sorted(Path(settings.DATA_DIR).glob("*-login.txt")):
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            values = dict(line.split("=", 1) for line in lines if "=" in line)
            if set(values) != {"username", "password"} or keep(values["username"]):
                continue  # not a file this command wrote, or one a later call handles
            path.unlink()
            found[values["username"]] = values["password"]
            self.stderr.write(
                f"Removed {path}: older versions kept the generated login there in plain text. "
                "Passwords are now shown once and stored only as a hash."
            )
        return found
