from django.db import migrations


def reinstall(apps, schema_editor):
    """The stamps' triggers again, now renewing the stamp of entered figures (-1) too, and a new
    token for every stamp (the parts' code changed with them: none of the old parts is read)."""
    from reports import stamps

    stamps.install(schema_editor, remove=True)
    stamps.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_stamps")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
