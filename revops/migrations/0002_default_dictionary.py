from django.db import migrations


def load(apps, schema_editor):
    from revops.dictionary_defaults import load_default_dictionary

    load_default_dictionary(apps.get_model("revops", "FieldDefinition"))


class Migration(migrations.Migration):
    dependencies = [("revops", "0001_records_and_dictionary")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
