"""The single revision row every write bumps (id 1, starting at revision 1)."""
from django.db import migrations


def create_row(apps, schema_editor):
    Revision = apps.get_model("apiserver", "Revision")
    Revision.objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"rv": 1, "compacted": 0})


class Migration(migrations.Migration):
    dependencies = [("apiserver", "0001_storage")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
