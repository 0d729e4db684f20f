from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Workflows that span every app (offboarding, the daily compliance check). Nothing imports
    this app: it sits on top of accounts, brokers, copytrading, reporting and compliance."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"
