"""Periodic jobs, declared in code. ``manage.py rqcron revops.cron`` loads this module.

Re-registering on every scheduler start is idempotent: the schedule lives here, not in Redis.
Scheduled automations need no registration of their own: ``run_scheduled_automations`` runs
every minute and evaluates each one whose period (``schedule_minutes``) has a slot not yet done.
"""

from rq import cron

from exceptions.jobs import register_cron as register_exception_jobs
from revops import jobs
from routing import jobs as routing_jobs

cron.register(jobs.heartbeat, queue_name="low", interval=60, name="heartbeat")
cron.register(jobs.sweep_outbox, queue_name="default", interval=60, name="sweep_outbox")
cron.register(jobs.run_scheduled_automations, queue_name="default", interval=60, name="run_scheduled_automations")
cron.register(jobs.open_review_overdue, queue_name="low", interval=86400, name="open_review_overdue")
cron.register(jobs.purge_idempotency_keys, queue_name="low", interval=3600, name="purge_idempotency_keys")
cron.register(routing_jobs.tick_sla_clocks, queue_name="default", interval=60, name="tick_sla_clocks")
register_exception_jobs(cron)  # escalation (5 min), snooze wake-up (1 min), daily digests
