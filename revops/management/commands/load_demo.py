"""``python manage.py load_demo [--seed N]``: build the reproducible demo org (see ``revops.demo``)."""

from django.core.management.base import BaseCommand

from revops.demo import DEFAULT_SEED, demo_load


class Command(BaseCommand):
    help = (
        "Load a realistic demo org (teams, reps, accounts, leads, contacts, opportunities, activities, tasks) and the "
        "default data dictionary. Reproducible for a given seed; does nothing if a demo is already loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Random seed (default {DEFAULT_SEED}); same seed, same org."
        )

    def handle(self, *args, seed, **options):
        result = demo_load(seed=seed)
        style = self.style.SUCCESS if result.created else self.style.WARNING
        lines = result.lines()
        self.stdout.write(style(lines[0]))
        for line in lines[1:]:
            self.stdout.write(line)
