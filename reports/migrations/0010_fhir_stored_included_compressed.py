"""The stored FHIR resources keep their Observations as Bundle entries compressed with zstd
(``included``, ``included_ends``) instead of their texts end to end. The rows are a copy of
the records, rebuilt by the next search that finds them missing: they are deleted, not
converted."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0009_fhir_stored_catalogue_stamp'),
    ]

    operations = [
        migrations.RunSQL(
            "DELETE FROM reports_storeddiagnosticreport", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.RemoveField(model_name='storeddiagnosticreport', name='observations'),
        migrations.RemoveField(model_name='storeddiagnosticreport', name='observation_ends'),
        migrations.AddField(
            model_name='storeddiagnosticreport',
            name='included',
            field=models.BinaryField(default=b'', help_text="The Bundle entries of those results' Observations, in that order, as a search with _include answers them, comma-separated, compressed with zstd (reports.fhir.stored.entries_pack); their fullUrl's base left as a mark"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='storeddiagnosticreport',
            name='included_ends',
            field=models.JSONField(default=list, help_text='Where each entry ends in the uncompressed entries (bytes)'),
            preserve_default=False,
        ),
    ]
