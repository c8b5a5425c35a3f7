from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Push to the CRM (a workflow app): outbound webhooks for the changes feed — subscriptions per API
    token with the kinds wanted, signed (HMAC-SHA256 with a per-subscription secret and a timestamp),
    sent in order, retried with exponential backoff, logged with replay in the admin, and paused with an
    item for the integration's owner after repeated failures. The pull feed stays the source of truth
    (docs/webhooks.md)."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Webhooks to the CRM"

    def ready(self):
        from exceptions.registry import register_item_kind
        from revops.feed import register_feed_listener
        from revops.plugins import register_schedule

        from . import jobs
        from .services import EXPECTED, ITEM_KIND, feed_written

        register_feed_listener(feed_written)
        register_schedule(jobs.webhooks_sweep, name="webhooks_sweep", queue="default", interval=60)
        register_item_kind(ITEM_KIND, "Webhook paused", severity="high", expected_action=EXPECTED)
