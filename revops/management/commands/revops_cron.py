"""``manage.py revops_cron revops.cron``: the cron scheduler of the Procfile (``revops.scheduler``).

The same as django-rq's ``rqcron`` with a scheduler that survives Redis restarts and records its
ticks for ``/healthz``.
"""

import logging

from django.core.management.base import BaseCommand

from revops.scheduler import ResilientCronScheduler


class Command(BaseCommand):
    help = "Run the periodic jobs of a cron configuration (e.g. revops.cron), surviving Redis restarts."

    def add_arguments(self, parser):
        parser.add_argument("config_path", help="cron configuration module or file, e.g. revops.cron")
        parser.add_argument(
            "--logging-level", "-l", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], default="INFO"
        )

    def handle(self, *args, config_path, logging_level, **options):
        scheduler = ResilientCronScheduler(logging_level=getattr(logging, logging_level))
        scheduler.load_config_from_file(config_path)
        self.stdout.write(f"Starting the cron scheduler with {len(scheduler.get_jobs())} jobs from {config_path}")
        scheduler.start()
