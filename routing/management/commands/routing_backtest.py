"""``manage.py routing_backtest --days 30 [--status live --status draft]``: the backtest report as JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from routing.backtest import DEFAULT_STATUSES, backtest
from routing.models import RoutingRule


class Command(BaseCommand):
    help = "Replay the leads of the last N days through the routing rules (writes nothing); print JSON."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument(
            "--status",
            action="append",
            choices=RoutingRule.Status.values,
            help="rule statuses to include (repeat; default: live, shadow and draft)",
        )

    def handle(self, *args, days, status, **options):
        if not 1 <= days <= 3650:
            raise CommandError("--days must be between 1 and 3650")
        report = backtest(days=days, statuses=tuple(status or DEFAULT_STATUSES))
        self.stdout.write(json.dumps(report, indent=2, default=str))
