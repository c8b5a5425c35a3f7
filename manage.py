#!/usr/bin/env python
import os
import secrets
import sys

# Commands that only read code and the database schema: they never serve a request, sign a cookie or
# send a link, so they run without SECRET_KEY (on a throwaway random one, never the public
# development default). Everything else — runserver, the workers, migrate, check --deploy — still
# refuses to start in production mode without a real SECRET_KEY (revops/settings.py).
OFFLINE_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "help"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
