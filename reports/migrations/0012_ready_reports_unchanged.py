"""A ready report (its PDF drawn and issued) never changes, in the database too: a trigger
refuses every UPDATE and DELETE of a row whose status is ``ready``, whoever asks (the services
never ask: they exclude ready reports, and a correction is a new, amended report; this also
covers the admin, raw SQL, the shell and other clients). On PostgreSQL and on SQLite, the
embedded default, alike. A later data migration that must rewrite ready reports drops the
trigger around its own change."""

from django.db import migrations

POSTGRESQL = """
CREATE FUNCTION reports_report_ready_unchanged() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'report ' || OLD.id || ' is ready (issued): ' || TG_OP || ' refused',
        ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reports_report_ready_unchanged
    BEFORE UPDATE OR DELETE ON reports_report
    FOR EACH ROW WHEN (OLD.status = 'ready')
    EXECUTE FUNCTION reports_report_ready_unchanged();
"""
POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS reports_report_ready_unchanged ON reports_report;
DROP FUNCTION IF EXISTS reports_report_ready_unchanged();
"""
SQLITE = (
    """
CREATE TRIGGER reports_report_ready_unchanged_update
    BEFORE UPDATE ON reports_report FOR EACH ROW WHEN OLD.status = 'ready'
    BEGIN SELECT RAISE(ABORT, 'a ready report (issued) is never updated'); END;
""",
    """
CREATE TRIGGER reports_report_ready_unchanged_delete
    BEFORE DELETE ON reports_report FOR EACH ROW WHEN OLD.status = 'ready'
    BEGIN SELECT RAISE(ABORT, 'a ready report (issued) is never deleted'); END;
""",
)
SQLITE_REVERSE = (
    "DROP TRIGGER IF EXISTS reports_report_ready_unchanged_update",
    "DROP TRIGGER IF EXISTS reports_report_ready_unchanged_delete",
)


def _unchanged(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
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
        ("reports", "0011_report_lab"),
    ]

    operations = [
        migrations.RunPython(_unchanged, _unchanged_reverse, elidable=False),
    ]
