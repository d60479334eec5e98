from django.apps import AppConfig


class CobuildConfig(AppConfig):
    name = "cobuild"
    verbose_name = "审计日志"

    def ready(self):
        from cobuild import audit

        audit.connect_signals()
