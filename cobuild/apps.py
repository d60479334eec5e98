from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def refresh_statistics(sender, using="default", **kwargs):
    """After `migrate` on SQLite, fresh planner statistics: a migration that rebuilds a table
    drops its sqlite_stat1 rows, and without them SQLite picks slow plans for the dashboards
    (measured: 86 ms of SQL with statistics, 232 ms without, on the county demo)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


class CobuildConfig(AppConfig):
    name = "cobuild"
    verbose_name = "审计日志"

    def ready(self):
        from cobuild import audit

        audit.connect_signals()
        post_migrate.connect(refresh_statistics, sender=self, dispatch_uid="cobuild_analyze")
