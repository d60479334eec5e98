from django.apps import AppConfig


class PairingsConfig(AppConfig):
    name = "pairings"
    verbose_name = "组织与结对"

    def ready(self):
        from cobuild.security import connect_signals

        connect_signals()
