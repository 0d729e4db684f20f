"""Celery app. Tasks are discovered from each app's tasks.py; the schedule is in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nija_site.settings.local")

app = Celery("nija_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

