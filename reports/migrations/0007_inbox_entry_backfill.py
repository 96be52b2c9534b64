"""The inbox entries of the panels stored before the inbox's read model existed: one statement,
the same rule as ``reports.inbox_entries.inbox_entries_refresh`` (a snapshot of it, as a
migration must be; tests/reports/test_inbox_entries.py checks both write the same entries)."""

from django.db import migrations

BACKFILL = """
INSERT INTO reports_inboxentry (
    panel_id, report_id, reader_id, lab_id, submitted_by_id, stage, issued_at, collected_at,
    accession, patient_mrn, patient_family_name, patient_given_name, unread, acknowledged,
    needs_attention, results_total, results_abnormal, results_critical,
    results_not_interpreted, results_indeterminate
)
SELECT
    p.id, r.id, p.ordering_clinician_id, p.lab_id, p.submitted_by_id, r.stage, r.created_at,
    p.collected_at, p.accession, pt.mrn, pt.family_name, pt.given_name,
    NOT EXISTS (
        SELECT 1 FROM reports_reportreceipt rr
        WHERE rr.report_id = r.id AND rr.user_id = p.ordering_clinician_id
    ),
    EXISTS (
        SELECT 1 FROM reports_reportreceipt rr
        WHERE rr.report_id = r.id AND rr.user_id = p.ordering_clinician_id
        AND rr.acknowledged_at IS NOT NULL
    ),
    COALESCE(c.abnormal + c.not_interpreted + c.indeterminate, 0) > 0,
    COALESCE(c.total, 0), COALESCE(c.abnormal, 0), COALESCE(c.critical, 0),
    COALESCE(c.not_interpreted, 0), COALESCE(c.indeterminate, 0)
FROM panels_panel p
JOIN (SELECT panel_id, MAX(id) AS id FROM reports_report GROUP BY panel_id) newest
    ON newest.panel_id = p.id
JOIN reports_report r ON r.id = newest.id
JOIN panels_patient pt ON pt.id = p.patient_id
LEFT JOIN (
    SELECT
        panel_id,
        COUNT(*) AS total,
        SUM(CASE WHEN interpretation NOT IN ('', 'N', 'IND') THEN 1 ELSE 0 END) AS abnormal,
        SUM(CASE WHEN interpretation IN ('HH', 'LL') THEN 1 ELSE 0 END) AS critical,
        SUM(CASE WHEN interpretation = '' THEN 1 ELSE 0 END) AS not_interpreted,
        SUM(CASE WHEN interpretation = 'IND' THEN 1 ELSE 0 END) AS indeterminate
    FROM panels_result
    WHERE superseded_by_id IS NULL
    GROUP BY panel_id
) c ON c.panel_id = p.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0006_inbox_entry"),
    ]

    operations = [
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
