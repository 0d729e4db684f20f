"""Every task is time-limited; stop-loss enforcement has a queue of its own; the embedded worker
that `make run` starts consumes every queue."""

from __future__ import annotations

import subprocess
import sys
import time

from celery import Celery
from django.conf import settings

from compliance.models import Communication
from core.management.commands.run_backoffice import Command as RunBackoffice
from nija_site.celery import app as celery_app
from tests.conftest import subprocess_env

PROJECT_APPS = ("accounts.", "brokers.", "compliance.", "copytrading.", "reporting.", "core.")


def _project_tasks() -> dict:
    celery_app.loader.import_default_modules()
    return {name: task for name, task in celery_app.tasks.items() if name.startswith(PROJECT_APPS)}


def test_default_time_limits_are_set_soft_before_hard():
    assert 0 < settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert celery_app.conf.task_soft_time_limit == settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert celery_app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT


def test_every_project_task_ends_at_its_soft_limit_before_its_hard_limit():
    tasks = _project_tasks()
    assert "copytrading.tasks.copy_orders_reconcile_task" in tasks and "reporting.tasks.report_generate_task" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or celery_app.conf.task_soft_time_limit
        hard = task.time_limit or celery_app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_long_tasks_have_their_own_longer_limits():
    tasks = _project_tasks()
    report = tasks["reporting.tasks.report_generate_task"]
    audit = tasks["brokers.tasks.balance_audit_task"]
    assert report.soft_time_limit > settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert audit.soft_time_limit > settings.CELERY_TASK_SOFT_TIME_LIMIT


def test_stop_enforcement_is_routed_to_the_stops_queue_and_the_rest_to_the_default_queue():
    route = celery_app.amqp.router.route
    assert route({}, "copytrading.tasks.copy_stops_enforce_task")["queue"].name == "stops"
    assert route({}, "copytrading.tasks.copy_orders_reconcile_task")["queue"].name == "celery"
    assert route({}, "reporting.tasks.report_generate_task")["queue"].name == "celery"


def test_periodic_runs_that_wait_too_long_in_the_queue_expire():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["copytrading-reconcile-orders"]["options"]["expires"] < schedule["copytrading-reconcile-orders"][
        "schedule"]
    assert schedule["copytrading-enforce-stops"]["options"]["expires"] < schedule["copytrading-enforce-stops"][
        "schedule"]


def test_the_embedded_worker_consumes_the_stops_queue_as_well_as_the_default(transactional_db, tmp_path,
                                                                               make_account):
    """Started with the queues `make run` gives it, a real worker takes messages from both queues
    of the filesystem broker."""
    assert RunBackoffice.queues() == "celery,stops"
    queue_dir = tmp_path / "celery"
    folders = {name: queue_dir / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    account = make_account("a1")
    messages = [Communication.objects.create(account=account, kind="statement", channel="email", subject=f"S{i}",
                                             body="Your statement.", status="queued", created_by="test")
                for i in range(2)]
    producer = Celery("queues-producer", broker="filesystem://", set_as_current=False)
    producer.conf.broker_transport_options = {
        "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
    }
    for message, queue in zip(messages, ("celery", "stops"), strict=True):
        producer.send_task("compliance.tasks.communication_send_task", args=[message.id], queue=queue)

    env = subprocess_env(REDIS_URL="", NIJA_CELERY_QUEUE_DIR=str(queue_dir), CELERY_TASK_ALWAYS_EAGER="0")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nija_site", "worker", "--pool", "solo", "-l", "warning",
         "-Q", RunBackoffice.queues()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not Communication.objects.filter(pk__in=[m.pk for m in messages], status="queued").exists():
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert set(Communication.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True)) == {
        "sent"}, output
