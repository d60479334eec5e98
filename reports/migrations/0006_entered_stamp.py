from django.db import migrations


def reinstall(apps, schema_editor):
    """The stamps' triggers again, now renewing the stamp of entered figures (-1) too, and that
    stamp's first token."""
    from reports import stamps

    vendor = schema_editor.connection.vendor
    for statement in stamps.remove_sql(vendor) + stamps.install_sql(vendor):
        schema_editor.execute(statement)
    schema_editor.execute(
        f"INSERT INTO reports_stamp (county, token) VALUES ({stamps.ENTERED}, {stamps.TOKEN[vendor]}) "
        "ON CONFLICT (county) DO UPDATE SET token = excluded.token"
    )


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_stamps")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
