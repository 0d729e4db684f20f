"""Embedded mode needs no Redis: a real Celery worker consumes tasks from kombu's filesystem
transport. Proven by queueing a task here and letting a worker process run it."""

import subprocess
import sys
import time

from compliance.models import Communication
from nija_site.celery import app
from tests.conftest import subprocess_env


def test_real_worker_runs_queued_tasks_over_the_filesystem_broker(transactional_db, tmp_path, make_account,
                                                                  settings):
    queue_dir = tmp_path / "celery"
    folders = {name: queue_dir / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    conf = app.conf
    saved = (conf.broker_url, conf.broker_transport_options, conf.task_always_eager)
    conf.broker_url = "filesystem://"
    conf.broker_transport_options = {
        "data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
    }
    conf.task_always_eager = False
    try:
        account = make_account("a1")  # queues the welcome e-mail task after commit
    finally:
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
    message = Communication.objects.get(account=account, kind="welcome")
    assert message.status == "queued"
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
