"""Periodic jobs, declared in code. ``manage.py rqcron revops.cron`` loads this module.

Re-registering on every scheduler start is idempotent: the schedule lives here, not in Redis.
"""

from rq import cron

from revops import jobs

cron.register(jobs.heartbeat, queue_name="low", interval=60, name="heartbeat")
cron.register(jobs.sweep_outbox, queue_name="default", interval=60, name="sweep_outbox")
cron.register(jobs.purge_idempotency_keys, queue_name="low", interval=3600, name="purge_idempotency_keys")
