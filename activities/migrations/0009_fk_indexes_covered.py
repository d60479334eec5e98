"""Drop the foreign-key indexes that a composite index already leads with.

On SQLite, altering a field remakes the table, which drops its triggers: the summary triggers
are removed first and installed again after (activities/summaries.py).
"""

import django.db.models.deletion
from django.db import migrations, models


def install_triggers(apps, schema_editor):
    from activities import summaries

    summaries.install(schema_editor)


def remove_triggers(apps, schema_editor):
    from activities import summaries

    summaries.install(schema_editor, remove=True)


class Migration(migrations.Migration):

    dependencies = [
        ('activities', '0008_summaries_no_key_indexes'),
        ('pairings', '0006_fk_indexes_covered'),
    ]

    operations = [
        migrations.RunPython(remove_triggers, install_triggers),
        migrations.AlterField(
            model_name='activity',
            name='pairing',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='activities', to='pairings.pairing', verbose_name='共建对子'),
        ),
        migrations.AlterField(
            model_name='outcome',
            name='activity',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='outcomes', to='activities.activity', verbose_name='活动'),
        ),
        migrations.AlterField(
            model_name='participation',
            name='activity',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participations', to='activities.activity', verbose_name='活动'),
        ),
        migrations.AlterField(
            model_name='participation',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='participations', to='pairings.member', verbose_name='党员'),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
