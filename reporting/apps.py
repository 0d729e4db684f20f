from django.apps import AppConfig


class ReportingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reporting"

    def ready(self):
        # Register the tasks in every process: services queue them by name (core.enqueue), and a task
        # the app does not know would bypass eager mode. Imported here, not at the top: tasks.py
        # imports the models, which exist only once the app registry is loaded.
        from . import tasks  # noqa: F401
