"""The cron scheduler process (``manage.py revops_cron revops.cron``): rq's, made to survive Redis restarts.

``rq.cron.CronScheduler.start`` ends on the first Redis error, and with it every periodic job —
the outbox sweeper included — until someone notices. This one logs the error, waits (0.5 s
doubling to 30 s) and carries on; a job that could not be enqueued is enqueued on the next tick.
It wakes at least every ``TICK_SECONDS`` and records each tick in Redis
(``revops.heartbeats.SCHEDULER_TICK_KEY``) for ``/healthz``.

One scheduler enqueues at a time, however many are started (one per host is the production
recipe, docs/deployment.md): each tick renews a lease in Redis (``LEADER_KEY``, ``LEASE_SECONDS``)
and only its holder enqueues and records ticks; the others wait as standbys. When the holder stops,
it hands the lease back; when it dies, the lease expires and a standby takes over within
``LEASE_SECONDS`` plus a tick, enqueuing at once whatever fell due meanwhile.
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
LEADER_KEY = "revops:scheduler:leader"
LEASE_SECONDS = 60  # four ticks: a holder slowed by one long Redis hiccup keeps its lease

# Take the lease when it is free, renew it when it is ours: 1 if we hold it now, else 0.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def scheduler_leader(connection) -> str | None:
    """The name of the scheduler holding the lease, or None."""
    value = connection.get(LEADER_KEY)
    return value.decode() if isinstance(value, bytes) else value


class ResilientCronScheduler(DjangoCronScheduler):
    """A ``DjangoCronScheduler`` whose loop outlives Redis restarts, records each tick and
    enqueues only while it holds the leader lease."""

    leading = False

    def hold_lease(self) -> bool:
        """Take or renew the lease; True while this scheduler is the one that enqueues."""
        held = bool(self.connection.eval(_HOLD, 1, LEADER_KEY, self.name, LEASE_SECONDS))
        if held != self.leading:
            if held:
                self.log.info("CronScheduler %s: holds the lease; enqueuing", self.name)
            else:
                self.log.info(
                    "CronScheduler %s: %s holds the lease; standing by", self.name, scheduler_leader(self.connection)
                )
        self.leading = held
        return held

    def release_lease(self) -> None:
        self.connection.eval(_RELEASE, 1, LEADER_KEY, self.name)
        self.leading = False

    def heartbeat(self) -> None:
        super().heartbeat()
        if self.leading:
            scheduler_tick_record(self.connection)

    def calculate_sleep_interval(self) -> float:
        return min(super().calculate_sleep_interval(), TICK_SECONDS)

    def tick(self) -> float:
        """Enqueue what is due (as the lease holder), beat; return how long to sleep."""
        if self.hold_lease() and self.enqueue_jobs():
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
                if self.leading:
                    self.release_lease()
                self.register_death()
            except REDIS_ERRORS as exc:
                self.log.warning("CronScheduler %s: could not register its death (%s)", self.name, exc)
            self.log.info("CronScheduler %s: shutdown complete", self.name)
