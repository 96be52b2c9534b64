"""A stored result is a record: nothing of it changes and it is never deleted; a correction or a
re-run is a new result, and the one it replaces only gets, once, who replaced it and when
(``superseded_by``, ``superseded_at``: ``panels.intake.amendments``). Triggers refuse anything
else, whoever asks (the admin, raw SQL, the shell, other clients), on PostgreSQL and on SQLite,
the embedded default, alike. PostgreSQL compares the whole row but those two columns (so a
column added later is covered too); SQLite's trigger names the columns as they are here. A
later data migration that must rewrite results drops them around its change."""

from django.db import migrations

_SUPERSEDING = ("superseded_by_id", "superseded_at")

POSTGRESQL = """
CREATE FUNCTION panels_result_unchanged() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION USING
            MESSAGE = 'result ' || OLD.id || ' is a record: DELETE refused',
            ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.superseded_by_id IS NOT NULL
        OR (to_jsonb(OLD) - 'superseded_by_id' - 'superseded_at')
            IS DISTINCT FROM (to_jsonb(NEW) - 'superseded_by_id' - 'superseded_at')
    THEN
        RAISE EXCEPTION USING
            MESSAGE = 'result ' || OLD.id
                || ' is a record: only its superseding is written, once; UPDATE refused',
            ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER panels_result_unchanged
    BEFORE UPDATE OR DELETE ON panels_result
    FOR EACH ROW EXECUTE FUNCTION panels_result_unchanged();
"""
POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS panels_result_unchanged ON panels_result;
DROP FUNCTION IF EXISTS panels_result_unchanged();
"""
SQLITE_REVERSE = (
    "DROP TRIGGER IF EXISTS panels_result_unchanged_update",
    "DROP TRIGGER IF EXISTS panels_result_unchanged_delete",
)


def _sqlite(apps) -> tuple[str, str]:
    columns = [
        field.column
        for field in apps.get_model("panels", "Result")._meta.concrete_fields
        if field.column not in _SUPERSEDING
    ]
    changed = " OR ".join(f'NEW."{column}" IS NOT OLD."{column}"' for column in columns)
    return (
        "CREATE TRIGGER panels_result_unchanged_update BEFORE UPDATE ON panels_result "
        f"FOR EACH ROW WHEN OLD.superseded_by_id IS NOT NULL OR {changed} BEGIN SELECT "
        "RAISE(ABORT, 'a result is a record: only its superseding is written, once'); END",
        "CREATE TRIGGER panels_result_unchanged_delete BEFORE DELETE ON panels_result "
        "FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'a result is a record: never deleted'); END",
    )


def _unchanged(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        for statement in _sqlite(apps):
            schema_editor.execute(statement)


def _unchanged_reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("panels", "0023_panel_lab_ids_unique"),
    ]

    operations = [
        migrations.RunPython(_unchanged, _unchanged_reverse, elidable=False),
    ]
