from django.apps import AppConfig


class CopytradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "copytrading"
    verbose_name = "Copy engine"

    def ready(self):
        # Register the tasks in every process, not only in workers (which autodiscover them): a task
        # queued by name (core.enqueue) then runs eagerly where eager mode is on (tests), instead of
        # bypassing it. Imported here, not at the top: tasks.py imports the models, which exist only
        # once the app registry is loaded.
        from . import tasks  # noqa: F401
