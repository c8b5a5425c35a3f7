"""``python manage.py automation_health_review [--weekly-email]``: run the monthly automation health
review now (see ``revops.engine.health_review``), and optionally send this week's e-mail to RevOps admins."""

from django.core.management.base import BaseCommand

from revops.engine.health_email import weekly_revops_email_send
from revops.engine.health_review import automation_health_review


class Command(BaseCommand):
    help = (
        "Run the automation health review now: open a retire / review suggestion for each tripped signal, "
        "refresh the open ones, close those whose signal cleared."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--weekly-email",
            action="store_true",
            help="Also send this week's e-mail to RevOps admins (once per week per person).",
        )

    def handle(self, *args, weekly_email=False, **options):
        self.stdout.write(automation_health_review().text())
        if weekly_email:
            done = weekly_revops_email_send()
            summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in done.items()) or "nothing to send"
            self.stdout.write(f"Weekly e-mail: {summary}.")
