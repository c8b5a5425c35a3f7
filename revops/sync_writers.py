"""How the sync writes a batch: COPY on PostgreSQL (the ORM's bulk paths spend most of a batch adapting
parameters), the ORM's bulk operations elsewhere (SQLite). ``ctx`` and the states are the sync's
plan (``revops.sync``): the batch's external-id maps and one state per record."""

from __future__ import annotations

from django.db import connection, models

from .sync_columns import json_text, model_meta, values_getter

# --------------------------------------------------------------------------------------------
# Writers: COPY on PostgreSQL (the ORM's bulk paths spend most of a batch adapting parameters),
# the ORM's bulk operations elsewhere.


class OrmWriter:
    def insert_records(self, model, ctx, states: list, own_map: dict[str, int]) -> None:
        meta = model_meta(model)
        fixups = []
        for state in states:
            pending = False
            for key, ref in state.refs.items():
                target = ctx.ref_specs.get(key)
                if ref is None or target is None:
                    continue
                pk = ctx.ext_to_pk[target].get(ref)
                if pk is None:
                    pending = True
                else:
                    setattr(state.instance, meta.fks[key], pk)
            if pending:
                fixups.append(state)
        model.objects.bulk_create([s.instance for s in states])
        for state in states:
            state.instance._state.adding = False
            own_map[state.instance.external_id] = state.instance.pk
        self_fks = [key for key in meta.fks if ctx.ref_specs.get(key) == ctx.object_type]
        if fixups:
            for state in fixups:
                for key in self_fks:
                    ref = state.refs.get(key)
                    if ref is not None:
                        setattr(state.instance, meta.fks[key], own_map[ref])
            model.objects.bulk_update([s.instance for s in fixups], [meta.fks[k] for k in self_fks])

    def update(self, model, instances, fields: list[str]) -> None:
        model.objects.bulk_update(instances, fields)

    def insert_rows(self, model, rows: list[dict]) -> None:
        model.objects.bulk_create([model(**row) for row in rows])

    def insert_tuples(self, model, attnames: tuple[str, ...], rows) -> None:
        """Insert ``rows`` (tuples of ``attnames`` values; the other columns take their defaults)."""
        model.objects.bulk_create([model(**dict(zip(attnames, row, strict=True))) for row in rows])


class PgWriter:
    def insert_records(self, model, ctx, states: list, own_map: dict[str, int]) -> None:
        meta = model_meta(model)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, len(states)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        for state, pk in zip(states, ids, strict=True):
            state.instance.pk = pk
            state.instance._state.adding = False
            own_map[state.instance.external_id] = pk
        # Ids are allocated up front, so references into the batch resolve before the insert
        # (foreign keys are deferred constraints, checked at commit).
        for state in states:
            for key, ref in state.refs.items():
                target = ctx.ref_specs.get(key)
                if ref is not None and target is not None:
                    setattr(state.instance, meta.fks[key], ctx.ext_to_pk[target][ref])
        fields = model._meta.concrete_fields
        values = values_getter(f.attname for f in fields)
        self._copy(model._meta.db_table, fields, (values(s.instance.__dict__) for s in states))

    def update(self, model, instances, fields: list[str]) -> None:
        """COPY the primary key and ``fields`` of ``instances`` into a session-local scratch table,
        then one ``UPDATE … FROM`` it."""
        table = model._meta.db_table
        # CREATE TABLE AS copies column types only (no NOT NULL), so any subset of columns can be
        # COPYed into it; ON COMMIT DELETE ROWS empties it for the next batch on this connection.
        scratch = f"_sync_set_{table}"
        qn = connection.ops.quote_name
        copied = [model._meta.pk, *(model._meta.get_field(name) for name in fields)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {qn(scratch)} ON COMMIT DELETE ROWS "
                f"AS SELECT * FROM {qn(table)} WITH NO DATA"
            )
            values = values_getter(f.attname for f in copied)
            self._copy(scratch, copied, (values(obj.__dict__) for obj in instances))
            assignments = ", ".join(f"{qn(f.column)} = s.{qn(f.column)}" for f in copied[1:])
            cursor.execute(f"UPDATE {qn(table)} AS t SET {assignments} FROM {qn(scratch)} AS s WHERE t.id = s.id")
            cursor.execute(f"DELETE FROM {qn(scratch)}")

    def insert_rows(self, model, rows: list[dict]) -> None:
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and f.get_internal_type().endswith("AutoField"))
        ]
        defaults = {f.attname: f.get_default() for f in fields}
        values = values_getter(f.attname for f in fields)
        self._copy(model._meta.db_table, fields, (values(defaults | row) for row in rows))

    def insert_tuples(self, model, attnames: tuple[str, ...], rows) -> None:
        """COPY ``rows`` (tuples of ``attnames`` values; the other columns take their database defaults
        or none: for models whose other columns are the primary key or nullable)."""
        self._copy(model._meta.db_table, [model._meta.get_field(name) for name in attnames], rows)

    @staticmethod
    def _copy(table: str, fields, rows) -> None:
        """COPY ``rows`` (sequences in ``fields`` order, JSON columns as Python values) into ``table``."""
        qn = connection.ops.quote_name
        json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        sql = f"COPY {qn(table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                write_row = copy.write_row
                if not json_at:
                    for row in rows:
                        write_row(row)
                    return
                for row in rows:
                    row = list(row)
                    for i in json_at:
                        row[i] = json_text(row[i])
                    write_row(row)
