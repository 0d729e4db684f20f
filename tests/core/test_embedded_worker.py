"""Embedded mode needs no Redis: a real Celery worker consumes tasks from kombu's filesystem
transport. Proven by queueing a task in a filesystem queue and letting a worker process run it."""

import subprocess
import sys
import time

from celery import Celery

from compliance.models import Communication
from tests.conftest import subprocess_env


def test_real_worker_runs_queued_tasks_over_the_filesystem_broker(transactional_db, tmp_path, make_account):
    queue_dir = tmp_path / "celery"
    folders = {name: queue_dir / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    account = make_account("a1")
    message = Communication.objects.create(account=account, kind="statement", channel="email",
                                           subject="Statement", body="Your statement.", status="queued",
                                           created_by="test")
    # A producer of its own, so the test never touches the app's (possibly Redis) connection pool.
    producer = Celery("embedded-producer", broker="filesystem://", set_as_current=False)
    producer.conf.broker_transport_options = {
        "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
    }
    producer.send_task("compliance.tasks.communication_send_task", args=[message.id])
    assert list(folders["queue"].iterdir()), "the task should be waiting in the filesystem queue"

    env = subprocess_env(REDIS_URL="", NIJA_CELERY_QUEUE_DIR=str(queue_dir), CELERY_TASK_ALWAYS_EAGER="0")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nija_site", "worker", "--pool", "solo", "-l", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status != "queued":
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert message.status == "sent", output
    assert not list(folders["queue"].iterdir()), "the worker consumed the message"
