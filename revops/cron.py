"""Periodic jobs, declared in code. ``manage.py rqcron revops.cron`` loads this module.

Re-registering on every scheduler start is idempotent: the schedule lives here, not in Redis.
"""

from rq import cron

from revops import jobs

cron.register(jobs.heartbeat, queue_name="low", interval=60, name="heartbeat")
