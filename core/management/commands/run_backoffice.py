"""Start the embedded back office: web server, one Celery worker and beat, as child processes.
Ctrl-C (or SIGTERM) stops all of them."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.utils.module_loading import import_string

from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Run web + Celery worker + beat together (embedded mode unless REDIS_URL is set)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("NIJA_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")

    @staticmethod
    def queues() -> str:
        return ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES)

    def handle(self, *args, **opts):
        for path in settings.NIJA_RUN_ON_START:
            import_string(path).delay()
            self.stdout.write(f"queued on start: {path}")
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands = {
            "web": [python, "manage.py", "runserver", opts["addr"], "--noreload"],
            # The one embedded worker consumes every queue (stops included).
            "worker": [python, "-m", "celery", "-A", "nija_site", "worker", "-l", "info",
                       "--concurrency", str(opts["concurrency"]), "-n", "worker@%h", "-Q", self.queues()],
            "beat": [python, "-m", "celery", "-A", "nija_site", "beat", "-l", "info"],
        }
        procs: dict[str, subprocess.Popen] = {}
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        mode = "embedded (filesystem broker)" if settings.CELERY_EMBEDDED else "Redis broker"
        self.stdout.write(self.style.SUCCESS(
            f"NIJA back office on http://{opts['addr']}/admin/ with worker and beat, {mode}. Ctrl-C stops all."
        ))

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            # SIGTERM to each main process only: the Celery worker then shuts its pool down warmly.
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            self.stdout.write("Stopped web, worker and beat.")
        if exit_code:
            sys.exit(exit_code)
