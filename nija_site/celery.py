"""Celery app. Tasks are discovered from each app's tasks.py; the schedule is in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nija_site.settings.local")

app = Celery("nija_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_embedded_queue_dirs() -> None:
    """The filesystem transport needs its folders before a producer or consumer connects."""
    from django.conf import settings

    if settings.CELERY_EMBEDDED:
        (settings.CELERY_QUEUE_DIR / "queue").mkdir(parents=True, exist_ok=True)
        for folder in ("processed", "control"):
            (settings.CELERY_QUEUE_DIR / folder).mkdir(parents=True, exist_ok=True)
