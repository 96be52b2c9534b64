"""A finding's words (name, statement, citation, verification state and note) are stored once
per distinct text, in ``FindingText``, and each finding points at them (issue 14, "Findings
data": the words were 51 of the 88 MB stored per 10,000 panels, repeated on every row).

Existing data is kept whole: every distinct text of the existing findings becomes one
``FindingText`` row, keyed by the digest of its words (``panels.models.finding_text_key``, copied
below as it is today: a migration does not follow later changes of the code), and every finding
points at its own words. Going back (unapplying) writes the words back onto every finding.
"""

import hashlib
import uuid

import django.db.models.deletion
from django.db import migrations, models

_TEXT_FIELDS = (
    "rule_id",
    "rule_version",
    "name",
    "statement",
    "citation",
    "verified",
    "verification_note",
)


def _key(rule_id, rule_version, name, statement, citation, verified, verification_note):
    digest = hashlib.sha256()
    for part in (rule_id, rule_version, name, statement, citation, "1" if verified else "0"):
        digest.update(f"{len(part)}:{part}".encode())
    digest.update(f"{len(verification_note)}:{verification_note}".encode())
    return uuid.UUID(bytes=digest.digest()[:16])


def texts_move_out(apps, schema_editor):
    Finding = apps.get_model("panels", "Finding")
    FindingText = apps.get_model("panels", "FindingText")
    db = schema_editor.connection.alias
    words = Finding.objects.using(db).values_list(*_TEXT_FIELDS).distinct().order_by()
    texts = [
        FindingText(id=_key(*values), **dict(zip(_TEXT_FIELDS, values, strict=True)))
        for values in words.iterator(chunk_size=2000)
    ]
    FindingText.objects.using(db).bulk_create(texts, batch_size=1000, ignore_conflicts=True)
    if schema_editor.connection.vendor == "postgresql":
        finding, text = Finding._meta.db_table, FindingText._meta.db_table
        matches = " AND ".join(f'f."{field}" = t."{field}"' for field in _TEXT_FIELDS)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{finding}" f SET "text_id" = t."id" FROM "{text}" t WHERE {matches}'  # noqa: S608
            )
            _checks_now(cursor)
    else:
        for text in texts:
            Finding.objects.using(db).filter(
                **{field: getattr(text, field) for field in _TEXT_FIELDS}
            ).update(text_id=text.id)
    unmatched = Finding.objects.using(db).filter(text__isnull=True).count()
    if unmatched:
        raise RuntimeError(f"{unmatched} finding(s) found no text: nothing was changed")


def _checks_now(cursor):
    """Check the deferred foreign keys of the rows just written now, not at commit: PostgreSQL
    refuses to alter a table with checks pending ("pending trigger events")."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def texts_move_back(apps, schema_editor):
    Finding = apps.get_model("panels", "Finding")
    FindingText = apps.get_model("panels", "FindingText")
    db = schema_editor.connection.alias
    for text in FindingText.objects.using(db).iterator(chunk_size=2000):
        Finding.objects.using(db).filter(text_id=text.id).update(
            **{field: getattr(text, field) for field in _TEXT_FIELDS[2:]}
        )
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            _checks_now(cursor)


class Migration(migrations.Migration):
    dependencies = [
        ("panels", "0017_identifiers_per_lab"),
    ]

    operations = [
        migrations.CreateModel(
            name="FindingText",
            fields=[
                ("id", models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ("rule_id", models.CharField(max_length=64)),
                ("rule_version", models.CharField(max_length=32)),
                ("name", models.CharField(max_length=200)),
                ("statement", models.TextField()),
                ("citation", models.TextField()),
                ("verified", models.BooleanField()),
                ("verification_note", models.TextField(blank=True)),
            ],
        ),
        migrations.AddField(
            model_name="finding",
            name="text",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="panels.findingtext",
            ),
        ),
        # Nullable while the words move, so that going back can add the columns again to a
        # table with rows before it fills them.
        migrations.AlterField(
            model_name="finding", name="name", field=models.CharField(max_length=200, null=True)
        ),
        migrations.AlterField(
            model_name="finding", name="statement", field=models.TextField(null=True)
        ),
        migrations.AlterField(
            model_name="finding", name="citation", field=models.TextField(null=True)
        ),
        migrations.AlterField(
            model_name="finding", name="verified", field=models.BooleanField(null=True)
        ),
        migrations.AlterField(
            model_name="finding",
            name="verification_note",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.RunPython(texts_move_out, texts_move_back, elidable=False),
        migrations.RemoveField(model_name="finding", name="name"),
        migrations.RemoveField(model_name="finding", name="statement"),
        migrations.RemoveField(model_name="finding", name="citation"),
        migrations.RemoveField(model_name="finding", name="verified"),
        migrations.RemoveField(model_name="finding", name="verification_note"),
        migrations.AlterField(
            model_name="finding",
            name="text",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="panels.findingtext",
            ),
        ),
    ]
