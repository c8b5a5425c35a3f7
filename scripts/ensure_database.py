"""Create the PostgreSQL database named by DATABASE_URL if it does not exist yet (for `make run`).

SQLite needs nothing (the file is created on first use); other engines are left alone.
"""

import os
import sys

import django
from django.db import connections
from django.db.utils import OperationalError


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    django.setup()
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return 0
    try:
        connection.ensure_connection()
        return 0
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            print(f"cannot connect to the database of DATABASE_URL: {exc}", file=sys.stderr)
            return 1
    name = connection.settings_dict["NAME"]
    # The maintenance database ("postgres") of the same server, as Django's test runner uses it.
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
    print(f"created PostgreSQL database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
