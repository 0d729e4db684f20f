from django.apps import AppConfig


class CopytradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "copytrading"
    verbose_name = "Copy engine"
