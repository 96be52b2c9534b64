"""The review history (``panels_reviewtransition``) is append-only in PostgreSQL too, as the event
record is (labpanel/events/migrations/0001_initial.py): a trigger refuses every UPDATE and DELETE,
whoever asks (the model and its queryset refuse already; this also covers raw SQL, the shell and
other clients). SQLite, the embedded default for trying the service, relies on the ORM alone."""

from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION panels_reviewtransition_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'panels_reviewtransition is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER panels_reviewtransition_append_only
    BEFORE UPDATE OR DELETE ON panels_reviewtransition
    FOR EACH ROW EXECUTE FUNCTION panels_reviewtransition_append_only();
"""
APPEND_ONLY_REVERSE = """
DROP TRIGGER IF EXISTS panels_reviewtransition_append_only ON panels_reviewtransition;
DROP FUNCTION IF EXISTS panels_reviewtransition_append_only();
"""


def _append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def _append_only_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("panels", "0014_worklist_indexes"),
    ]

    operations = [
        migrations.RunPython(_append_only, _append_only_reverse, elidable=False),
    ]
