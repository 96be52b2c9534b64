"""The reference data stamp (``ReferenceDataStamp``): one row whose token triggers change on every
write to the tables ``reference_ranges.current`` keeps in memory, so that every process sees a
change at its next use, whoever made it (services, the admin, raw SQL, another process).

PostgreSQL: one statement-level trigger per table (INSERT, UPDATE, DELETE, TRUNCATE) upserting a
random token. SQLite (the embedded default): row-level triggers (INSERT, UPDATE, DELETE; SQLite has
no TRUNCATE, Django's flush deletes rows) replacing the row with a random token.
"""

from django.db import migrations, models

# The tables reference_ranges.current reads.
TABLES = (
    "reference_ranges_analyte",
    "reference_ranges_referencerangeset",
    "reference_ranges_referencerangerule",
    "reference_ranges_assaymeasuringrange",
    "reference_ranges_labspecimensetting",
    "reference_ranges_patternrulesetting",
)
STAMP = "reference_ranges_referencedatastamp"

PG_FUNCTION = f"""
CREATE FUNCTION reference_data_stamp_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO {STAMP} (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
PG_TRIGGER = """
CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION reference_data_stamp_bump();
"""
SQLITE_TRIGGER = f"""
CREATE TRIGGER {{table}}_stamp_{{operation}} AFTER {{operation}} ON {{table}}
BEGIN
    INSERT OR REPLACE INTO {STAMP} (id, token) VALUES (1, lower(hex(randomblob(16))));
END;
"""
SQLITE_OPERATIONS = ("insert", "update", "delete")


def _triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(PG_TRIGGER.format(table=table))
        schema_editor.execute(
            f"INSERT INTO {STAMP} (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))"
        )
    elif vendor == "sqlite":
        for table in TABLES:
            for operation in SQLITE_OPERATIONS:
                schema_editor.execute(SQLITE_TRIGGER.format(table=table, operation=operation))
        schema_editor.execute(
            f"INSERT INTO {STAMP} (id, token) VALUES (1, lower(hex(randomblob(16))))"
        )
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"no reference data stamp triggers for {vendor}")


def _triggers_reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS reference_data_stamp_bump()")
    elif vendor == "sqlite":
        for table in TABLES:
            for operation in SQLITE_OPERATIONS:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("reference_ranges", "0005_lab_specimen_setting"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferenceDataStamp",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("token", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(_triggers, _triggers_reverse, elidable=False),
    ]
