"""Each panel's current results counted by judgement, stored on the panel for the worklist
(``panels.result_counts``), backfilled here with the same counting as its writer; the worklist's
index now follows its order (critical first, then the oldest collection)."""

from django.db import migrations, models

BACKFILL = '''
UPDATE panels_panel AS panel
SET results_total = counted.total,
    results_flagged = counted.flagged,
    results_critical = counted.critical,
    results_not_interpreted = counted.not_interpreted,
    is_critical = counted.critical > 0
FROM (
    SELECT panel_id,
           count(*) AS total,
           count(*) FILTER (WHERE interpretation NOT IN ('', 'N', 'IND')) AS flagged,
           count(*) FILTER (WHERE interpretation IN ('HH', 'LL')) AS critical,
           count(*) FILTER (WHERE interpretation = '') AS not_interpreted
    FROM panels_result
    WHERE superseded_by_id IS NULL
    GROUP BY panel_id
) AS counted
WHERE panel.id = counted.panel_id
'''


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0014_worklist_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='panel',
            name='panel_worklist',
        ),
        migrations.AddField(
            model_name='panel',
            name='is_critical',
            field=models.BooleanField(db_default=False, default=False, help_text='A current result is flagged critical (HH/LL)'),
        ),
        migrations.AddField(
            model_name='panel',
            name='results_critical',
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='panel',
            name='results_flagged',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, help_text='Current results neither normal, indeterminate nor uninterpreted'),
        ),
        migrations.AddField(
            model_name='panel',
            name='results_not_interpreted',
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='panel',
            name='results_total',
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name='panel',
            index=models.Index(condition=models.Q(('review_state__in', ['received', 'verified'])), fields=['lab', '-is_critical', 'collected_at', 'accession'], include=('id', 'patient', 'submitted_by', 'specimen_type', 'review_state', 'results_total', 'results_flagged', 'results_critical', 'results_not_interpreted'), name='panel_worklist_order'),
        ),
    ]
