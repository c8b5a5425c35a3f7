"""The cron scheduler process (``manage.py revops_cron revops.cron``): rq's, made to survive Redis restarts.

``rq.cron.CronScheduler.start`` ends on the first Redis error, and with it every periodic job —
the outbox sweeper included — until someone notices. This one logs the error, waits (0.5 s
doubling to 30 s) and carries on; a job that could not be enqueued is enqueued on the next tick.
It wakes at least every ``TICK_SECONDS`` and records each tick in Redis
(``revops.heartbeats.SCHEDULER_TICK_KEY``) for ``/healthz``.
"""

from __future__ import annotations

import time

import redis.exceptions
from django_rq.cron import DjangoCronScheduler
from rq.exceptions import StopRequested

from .heartbeats import scheduler_tick_record

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
TICK_SECONDS = 15
MAX_BACKOFF = 30.0


class ResilientCronScheduler(DjangoCronScheduler):
    """A ``DjangoCronScheduler`` whose loop outlives Redis restarts and records each tick."""

    def heartbeat(self) -> None:
        super().heartbeat()
        scheduler_tick_record(self.connection)

    def calculate_sleep_interval(self) -> float:
        return min(super().calculate_sleep_interval(), TICK_SECONDS)

    def tick(self) -> float:
        """Enqueue what is due, beat; return how long to sleep."""
        if self.enqueue_jobs():
            self.save()  # the jobs' next run times, for the dashboard
        self.heartbeat()
        return self.calculate_sleep_interval()

    def start(self):
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()
        backoff = 0.5
        born = False
        try:
            while True:
                try:
                    if not born:
                        self.register_birth()
                        born = True
                    sleep = self.tick()
                    backoff = 0.5
                except REDIS_ERRORS as exc:
                    self.log.warning(
                        "CronScheduler %s: Redis unavailable (%s); retrying in %.1f s", self.name, exc, backoff
                    )
                    sleep, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
                if sleep > 0:
                    time.sleep(sleep)
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_ERRORS as exc:
                self.log.warning("CronScheduler %s: could not register its death (%s)", self.name, exc)
            self.log.info("CronScheduler %s: shutdown complete", self.name)
