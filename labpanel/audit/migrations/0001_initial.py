
import django.utils.timezone
from django.db import migrations, models

# PostgreSQL refuses to change or delete a read audit entry, whoever asks (the model and its
# queryset refuse already; this also covers raw SQL, the shell and other clients), as for the
# event record (labpanel/events/migrations/0001_initial.py). A GIN index serves the search by
# patient (``patient_ids @> '[17]'``). SQLite, the embedded default for trying the service,
# relies on the ORM's refusal alone and searches by ``json_each``.
APPEND_ONLY = """
CREATE FUNCTION audit_readentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'audit_readentry is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_readentry_append_only
    BEFORE UPDATE OR DELETE ON audit_readentry
    FOR EACH ROW EXECUTE FUNCTION audit_readentry_append_only();
CREATE INDEX audit_read_patient_ids ON audit_readentry USING gin (patient_ids jsonb_path_ops);
"""
APPEND_ONLY_REVERSE = """
DROP INDEX IF EXISTS audit_read_patient_ids;
DROP TRIGGER IF EXISTS audit_readentry_append_only ON audit_readentry;
DROP FUNCTION IF EXISTS audit_readentry_append_only();
"""


def _append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def _append_only_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_REVERSE)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ReadEntry',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('occurred_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('lab_id', models.BigIntegerField(blank=True, null=True)),
                ('user_id', models.BigIntegerField(blank=True, null=True)),
                ('token_id', models.CharField(blank=True, default='', max_length=128)),
                ('channel', models.CharField(choices=[('token', 'API token'), ('session', 'Session (web pages, API with a session)'), ('admin', 'Admin site')], max_length=8)),
                ('view', models.CharField(max_length=120)),
                ('path', models.CharField(max_length=400)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('user_agent', models.CharField(blank=True, default='', max_length=400)),
                ('patient_ids', models.JSONField(blank=True, default=list)),
                ('panel_ids', models.JSONField(blank=True, default=list)),
                ('report_ids', models.JSONField(blank=True, default=list)),
                ('import_job_id', models.BigIntegerField(blank=True, null=True)),
            ],
            options={
                'verbose_name': 'read audit entry',
                'verbose_name_plural': 'read audit entries',
                'ordering': ('-id',),
                'indexes': [models.Index(fields=['lab_id', 'occurred_at'], name='audit_read_lab_time'), models.Index(fields=['user_id', 'occurred_at'], name='audit_read_user_time')],
            },
        ),
        migrations.RunPython(_append_only, _append_only_reverse, elidable=False),
    ]
