"""RQ entry points of the core app. Jobs take ids, validate nothing themselves and call services."""

import logging

from django.utils import timezone

logger = logging.getLogger(__name__)


def heartbeat() -> str:
    """Proves the scheduler and a worker are alive; visible in the RQ admin and the logs."""
    stamp = timezone.now().isoformat()
    logger.info("scheduler heartbeat %s", stamp)
    return stamp
