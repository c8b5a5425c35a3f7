"""The cron table: every periodic job the apps declared. ``manage.py revops_cron revops.cron`` loads it.

Each layer declares its own jobs with ``revops.plugins.register_schedule`` in its
``AppConfig.ready()`` (the core and the engine in ``revops.apps``, the queue in ``exceptions.apps``,
routing in ``routing.apps``…); this module only hands them to ``rq.cron``. Re-registering on every
scheduler start is idempotent: the schedule lives in code, not in Redis. Scheduled automations
need no entry of their own: ``run_scheduled_automations`` runs every minute and evaluates each
one whose period (``schedule_minutes``) has a slot not yet done.
"""

from rq import cron

from revops.plugins import schedules

for schedule in schedules():
    if schedule.cron:
        cron.register(schedule.func, queue_name=schedule.queue, cron=schedule.cron, name=schedule.name)
    else:
        cron.register(schedule.func, queue_name=schedule.queue, interval=schedule.interval, name=schedule.name)
