"""``panel_lab_ids`` becomes a unique constraint (it always held: the id is unique), so that a
report's (lab, panel) can refer to its panel's (lab, id): a report's lab is its panel's
(``reports`` migration 0011)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0022_panel_lab_ids'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='panel', name='panel_lab_ids'),
        migrations.AddConstraint(
            model_name='panel',
            constraint=models.UniqueConstraint(fields=('lab', 'id'), name='panel_lab_ids'),
        ),
    ]
