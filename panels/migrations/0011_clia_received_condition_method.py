"""CLIA 493.1291(c): the specimen's condition, each result's method and instrument, and the
laboratory's own receipt time.

``Panel.received_at`` was Labpanel's entry time (``timezone.now()`` when the panel was stored),
which ``created_at`` also holds: it never was the time the laboratory received the specimen.
It becomes nullable, and every existing row's ``received_at`` is set to NULL ("not stated by
the laboratory"): keeping the entry time there would print it as the lab's receipt time.
Nothing is lost, since ``created_at`` holds the same instant; reversing the migration copies
``created_at`` back.
"""

from django.db import migrations, models


def received_not_stated(apps, schema_editor):
    apps.get_model("panels", "Panel").objects.update(received_at=None)


def received_from_entry_time(apps, schema_editor):
    Panel = apps.get_model("panels", "Panel")
    Panel.objects.filter(received_at__isnull=True).update(received_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0010_panel_is_baseline'),
    ]

    operations = [
        migrations.AddField(
            model_name='panel',
            name='specimen_condition',
            field=models.CharField(blank=True, help_text="The specimen's condition as the lab stated it (e.g. Hemolyzed); blank when not stated", max_length=200),
        ),
        migrations.AddField(
            model_name='result',
            name='instrument',
            field=models.CharField(blank=True, help_text="The instrument as the sender stated it (HL7 OBX-18, an export's serial or name); blank when not stated", max_length=200),
        ),
        migrations.AddField(
            model_name='result',
            name='method',
            field=models.CharField(blank=True, help_text="The measurement method as the sender stated it (HL7 OBX-17, an instrument export's format); blank when not stated", max_length=200),
        ),
        migrations.AlterField(
            model_name='panel',
            name='received_at',
            field=models.DateTimeField(blank=True, help_text="When the laboratory received the specimen, as the lab stated it; null when not stated (never guessed from Labpanel's own entry time, created_at)", null=True),
        ),
        migrations.RunPython(received_not_stated, received_from_entry_time),
    ]
