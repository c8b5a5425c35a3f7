"""The WSGI application (``gunicorn revops.wsgi``).

Once Django and every view module are loaded, what they hold is moved out of the garbage collector's
sight (``gc.freeze``): a full collection then walks only what requests create, not the whole loaded
portal. Syncing leads in one process, a full collection came about every 2,500 records and took
about 50 ms, 15 % of the sync's time (``bench/README.md``, "Sixth pass"). The workers do the same
(``revops.worker``).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
application = get_wsgi_application()


def _freeze_loaded() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  imports every view module now, not on the first request
    gc.collect()
    gc.freeze()


_freeze_loaded()
