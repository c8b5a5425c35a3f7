"""``manage.py create_api_token NAME --scope sync:write --scope read``: print a new token once."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from revops.models import ApiToken, Scope
from revops.tokens import api_token_create


class Command(BaseCommand):
    help = "Create a named API token for an integration and print its secret (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name for the integration, e.g. crm.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=[s.value for s in Scope],
            help="A scope to grant; repeat for several (e.g. --scope sync:write --scope read).",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help="The portal's address for the printed curl example (default: PORTAL_BASE_URL, the one make run serves).",
        )

    def handle(self, *args, name, scopes, base_url, **options):
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(f"A token named {name!r} exists already; revoke it or pick another name.")
        try:
            token, raw = api_token_create(name=name, scopes=scopes, actor=None)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        base_url = base_url or settings.PORTAL_BASE_URL
        self.stdout.write(
            self.style.SUCCESS(f"Created API token {token.name!r} with scopes {', '.join(token.scopes)}.")
        )
        self.stdout.write("Copy it now; it is not stored and cannot be shown again:\n")
        self.stdout.write(raw)
        endpoint = "changes/" if "read" in token.scopes else "sync/leads/"
        self.stdout.write("\nTry it:\n")
        self.stdout.write(f"  export TOKEN={raw}")
        if endpoint == "changes/":
            self.stdout.write(f'  curl -s -H "Authorization: Bearer $TOKEN" {base_url.rstrip("/")}/api/v1/changes/')
        else:
            self.stdout.write(
                f'  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" '
                f"-d '{{\"records\": []}}' {base_url.rstrip('/')}/api/v1/sync/leads/"
            )
