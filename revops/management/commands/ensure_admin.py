"""``manage.py ensure_admin``: make sure a superuser exists and say how to log in.

On the first run it creates the superuser with a random password (or ``DJANGO_SUPERUSER_PASSWORD``),
prints the login and stores it in ``DATA_DIR/admin-login.txt`` (mode 600). Later runs print the
stored login again as long as it still works; if the password was changed since, they say how to
reset it instead of touching the account. Safe to run on every start.

``--manager`` does the same for an existing non-superuser (the demo's ``manager.na``): it gives a
user without a usable password a random one, stores it in ``DATA_DIR/<username>-login.txt`` and
prints ``Manager login: <username> / <password>``.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the superuser if missing (random password, stored in DATA_DIR/admin-login.txt) and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")
        parser.add_argument(
            "--reset-password", action="store_true", help="Give the user a new random password and print it."
        )
        parser.add_argument(
            "--login-file",
            type=Path,
            default=None,
            help="Where the generated login is stored (default: DATA_DIR/admin-login.txt).",
        )
        parser.add_argument("--no-store", action="store_true", help="Print a generated password but do not store it.")
        parser.add_argument(
            "--manager",
            action="store_true",
            help="Print the login of an existing non-superuser (e.g. the demo's manager.na), setting a password if it has none.",
        )

    def handle(self, *args, username, email, reset_password, login_file, no_store, manager=False, **options):
        if manager:
            self._manager_login(
                username, login_file or Path(settings.DATA_DIR) / f"{username}-login.txt", reset_password
            )
            return
        login_file = login_file or Path(settings.DATA_DIR) / "admin-login.txt"
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.select_for_update().filter(**{User.USERNAME_FIELD: username}).first()
            if user is None:
                password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
                User.objects.create_superuser(username, email, password)
                self._remember(login_file, username, password, store=not no_store)
                self._print_login(username, password, "created", login_file, stored=not no_store)
                return
            if reset_password:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
                self._remember(login_file, username, password, store=not no_store)
                self._print_login(username, password, "password reset", login_file, stored=not no_store)
                return

        stored = self._stored_password(login_file, username)
        if stored and user.check_password(stored):
            self._print_login(username, stored, "exists", login_file, stored=True)
        else:
            self.stdout.write(f"Username: {username}")
            self.stdout.write(
                "Password: (not stored here: it was set elsewhere or changed since the first run)\n"
                f"          reset it with `manage.py changepassword {username}` "
                f"or `manage.py ensure_admin --username {username} --reset-password`"
            )

    def _manager_login(self, username, login_file, reset_password):
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            self.stdout.write(f"Manager login: none ({username} does not exist; load the demo first)")
            return
        stored = self._stored_password(login_file, username)
        if stored and user.check_password(stored) and not reset_password:
            self.stdout.write(f"Manager login: {username} / {stored}")
            return
        if user.has_usable_password() and not reset_password:
            self.stdout.write(
                f"Manager login: {username} (password set elsewhere; reset with --manager --reset-password)"
            )
            return
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        self._remember(login_file, username, password, store=True)
        self.stdout.write(f"Manager login: {username} / {password}")

    def _print_login(self, username, password, what, login_file, *, stored):
        self.stdout.write(f"Username: {username}")
        self.stdout.write(f"Password: {password}")
        note = f"superuser {what}"
        if stored:
            note += f"; login stored in {login_file}"
        self.stdout.write(f"          ({note})")

    @staticmethod
    def _remember(login_file: Path, username: str, password: str, *, store: bool) -> None:
        if not store:
            return
        login_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(login_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"username={username}\npassword={password}\n")
        os.chmod(login_file, 0o600)

    @staticmethod
    def _stored_password(login_file: Path, username: str) -> str | None:
        try:
            lines = login_file.read_text().splitlines()
        except OSError:
            return None
        values = dict(line.split("=", 1) for line in lines if "=" in line)
        if values.get("username") != username:
            return None
        return values.get("password") or None
