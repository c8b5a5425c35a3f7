"""``manage.py revoke_api_token NAME``: requests with that token get 401 from now on."""

from django.core.management.base import BaseCommand, CommandError

from revops.models import ApiToken
from revops.tokens import api_token_revoke


class Command(BaseCommand):
    help = "Revoke the API token with the given name."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        token = ApiToken.objects.filter(name=name).first()
        if token is None:
            raise CommandError(f"No API token named {name!r}.")
        if token.revoked_at is not None:
            self.stdout.write(f"API token {name!r} was already revoked on {token.revoked_at:%Y-%m-%d %H:%M}.")
            return
        api_token_revoke(token=token, actor=None)
        self.stdout.write(self.style.SUCCESS(f"Revoked API token {name!r} ({token.prefix}…)."))
