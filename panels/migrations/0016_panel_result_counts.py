"""Each panel's current results counted by judgement, stored on the panel for the worklist
(``panels.result_counts``), backfilled here with the same counting as its writer; the worklist's
index now follows its order (critical first, then the oldest collection)."""

from django.db import migrations, models

NOT_FLAGGED = ("", "N", "IND")
CRITICAL = ("HH", "LL")


def backfill(apps, schema_editor):
    """Every panel's current results counted as ``panels.result_counts`` counts them."""
    from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
    from django.db.models.functions import Coalesce

    Panel = apps.get_model("panels", "Panel")
    Result = apps.get_model("panels", "Result")

    def counted(judged=None):
        results = Result.objects.filter(panel_id=OuterRef("pk"), superseded_by__isnull=True)
        if judged is not None:
            results = results.filter(judged)
        n = results.order_by().values("panel_id").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(n, output_field=IntegerField()), Value(0))

    Panel.objects.update(
        results_total=counted(),
        results_flagged=counted(~Q(interpretation__in=NOT_FLAGGED)),
        results_critical=counted(Q(interpretation__in=CRITICAL)),
        results_not_interpreted=counted(Q(interpretation="")),
        results_indeterminate=counted(Q(interpretation="IND")),
        is_critical=Exists(
            Result.objects.filter(
                panel_id=OuterRef("pk"), superseded_by__isnull=True, interpretation__in=CRITICAL
            )
        ),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0015_review_transition_append_only'),
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
            name='results_indeterminate',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, help_text='Current results that cannot be placed (IND)'),
        ),
        migrations.AddField(
            model_name='panel',
            name='results_total',
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='panel',
            index=models.Index(condition=models.Q(('review_state__in', ['received', 'verified'])), fields=['lab', '-is_critical', 'collected_at', 'accession'], include=('id', 'patient', 'submitted_by', 'specimen_type', 'review_state', 'results_total', 'results_flagged', 'results_critical', 'results_not_interpreted', 'results_indeterminate'), name='panel_worklist_order'),
        ),
    ]
