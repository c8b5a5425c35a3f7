"""Fewer indexes written per routed lead and per synced record: single-column indexes that a wider
index already serves, and PostgreSQL's pattern-matching twins of choice and code columns (no query
matches them by pattern), replaced by plain b-trees where a column still needs one. Dropped alone
(``revops.schema_indexes``): foreign-key constraints stay as they are."""

import django.db.models.deletion
from django.db import migrations, models

from revops.schema_indexes import drop_own_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("revops", "0021_fewer_indexes"),
        ("routing", "0007_decision_counted_owner"),
    ]

    operations = [
        # The new indexes first: while one builds, the table takes reads; a dropped index locks it.
        migrations.AddIndex(
            model_name="slaclock",
            index=models.Index(fields=["status"], name="sla_clock_status"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="historicalslaclock",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("met", "Met"),
                            ("breached", "Breached"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="running",
                        max_length=12,
                    ),
                ),
                migrations.AlterField(
                    model_name="routingdecision",
                    name="lead",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="routing_decisions",
                        to="revops.lead",
                    ),
                ),
                migrations.AlterField(
                    model_name="routingdecision",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="revops.rep",
                    ),
                ),
                migrations.AlterField(
                    model_name="routingdecision",
                    name="rule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="decisions",
                        to="routing.routingrule",
                    ),
                ),
                migrations.AlterField(
                    model_name="slaclock",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("met", "Met"),
                            ("breached", "Breached"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="running",
                        max_length=12,
                    ),
                ),
            ],
            database_operations=[
                drop_own_indexes(
                    {
                        "routing.HistoricalSlaClock": ["status"],
                        "routing.RoutingDecision": ["lead", "owner", "rule"],
                        "routing.SlaClock": ["status"],
                    }
                )
            ],
        ),
    ]
