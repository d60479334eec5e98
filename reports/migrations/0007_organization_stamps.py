from django.db import migrations


def reinstall(apps, schema_editor):
    """The stamps' triggers again: an organization's write renews the installation's stamp only
    when it may move branches between counties, else its own and its partners' counties."""
    from reports import stamps

    stamps.install(schema_editor, remove=True)
    stamps.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("reports", "0006_entered_stamp")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
