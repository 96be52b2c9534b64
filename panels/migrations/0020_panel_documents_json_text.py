"""The stored panel documents as PostgreSQL ``json`` (their text as written), not ``jsonb``:
read whole as text, never searched inside (``panels.models_documents.StoredJSONField``). The
existing rows are converted by PostgreSQL (jsonb to json, an assignment cast); what they say
does not change."""


import panels.models_documents
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('panels', '0019_panel_documents'),
    ]

    operations = [
        migrations.AlterField(
            model_name='paneldocument',
            name='detail',
            field=panels.models_documents.StoredJSONField(help_text="The panel's API document as its lab's staff read it, without its reports"),
        ),
        migrations.AlterField(
            model_name='paneldocument',
            name='summary',
            field=panels.models_documents.StoredJSONField(help_text="The panel's summary in the API's list, without reports"),
        ),
    ]
