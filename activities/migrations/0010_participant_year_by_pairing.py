"""ParticipantYear gains the pairing: a row per member, pairing and year, so that each
pairing's participants are a grouped count of its rows (the situation report's facts).

The rows are derived: the table is emptied, reshaped and filled again from the participations,
with the summary triggers (which write it) removed meanwhile and installed after.
"""

import django.db.models.deletion
from django.db import migrations, models


def remove_triggers(apps, schema_editor):
    from activities import summaries

    summaries.install(schema_editor, remove=True)
    schema_editor.execute("DELETE FROM activities_participantyear")


def install_triggers(apps, schema_editor):
    from activities import summaries

    summaries.install(schema_editor)
    vendor = schema_editor.connection.vendor
    for statement in summaries.rebuild_sql(vendor, ["activities_participantyear"]):
        schema_editor.execute(statement)
    if vendor == "postgresql":  # the planner's statistics of the refilled table
        schema_editor.execute("ANALYZE activities_participantyear")


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0009_fk_indexes_covered"),
        ("pairings", "0006_fk_indexes_covered"),
    ]

    operations = [
        migrations.RunPython(remove_triggers, install_triggers),
        migrations.RemoveConstraint(
            model_name="participantyear",
            name="participant_year_unique",
        ),
        migrations.AddField(
            model_name="participantyear",
            name="pairing",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                default=0,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="pairings.pairing",
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="participantyear",
            constraint=models.UniqueConstraint(
                fields=("member", "year", "pairing"), name="participant_year_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="participantyear",
            index=models.Index(fields=["pairing", "year"], name="participant_year_pairing"),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
