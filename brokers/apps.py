from django.apps import AppConfig


class BrokersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "brokers"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
