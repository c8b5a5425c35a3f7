"""Fewer indexes written per routed lead and per synced record: single-column indexes that a wider
index already serves, and PostgreSQL's pattern-matching twins of choice and code columns (no query
matches them by pattern), replaced by plain b-trees where a column still needs one. Dropped alone
(``revops.schema_indexes``): foreign-key constraints stay as they are."""

import django.db.models.deletion
from django.db import migrations, models

from revops.schema_indexes import drop_own_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("revops", "0020_metric_all_teams_rows"),
    ]

    operations = [
        # The new indexes first: while one builds, the table takes reads; a dropped index locks it.
        migrations.AddIndex(
            model_name="automationrun",
            index=models.Index(fields=["outcome"], name="run_outcome"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["email"], name="lead_email"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["domain"], name="lead_domain"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["country"], name="lead_country"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["status"], name="lead_status"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appliedaction",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="applied",
                        to="revops.automationrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="automationrun",
                    name="automation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="revops.automation",
                    ),
                ),
                migrations.AlterField(
                    model_name="automationrun",
                    name="outcome",
                    field=models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("fired", "Fired"),
                            ("not_fired", "Did not fire"),
                            ("error", "Error"),
                        ],
                        default="pending",
                        max_length=12,
                    ),
                ),
                migrations.AlterField(
                    model_name="automationrun",
                    name="version",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="runs",
                        to="revops.automationversion",
                    ),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="country",
                    field=models.CharField(blank=True, help_text="ISO 3166-1 alpha-2", max_length=2),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="domain",
                    field=models.CharField(blank=True, max_length=200),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="email",
                    field=models.EmailField(blank=True, max_length=254),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="leads",
                        to="revops.rep",
                    ),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("new", "New"),
                            ("working", "Working"),
                            ("nurture", "Nurture"),
                            ("qualified", "Qualified"),
                            ("unqualified", "Unqualified"),
                            ("converted", "Converted"),
                        ],
                        default="new",
                        max_length=20,
                    ),
                ),
            ],
            database_operations=[
                drop_own_indexes(
                    {
                        "revops.AppliedAction": ["run"],
                        "revops.AutomationRun": ["automation", "version", "outcome"],
                        "revops.Lead": ["country", "domain", "email", "owner", "status"],
                    }
                )
            ],
        ),
    ]
