"""Production-shaped smoke run (called by .ci/run after `make test`; runnable by itself).

Starts the reference production topology on this machine, under nija_site.settings.production:
a fresh PostgreSQL database, its own Redis db, gunicorn, one Celery worker per queue (`celery`,
`stops`) and beat. Secrets (SECRET_KEY, NIJA_CREDENTIAL_KEYS, NIJA_SIGNAL_SECRET) are generated for
the run and never written to disk. Then:

  1. sets up a MASTER and PAPER followers with the real commands (onboard_user,
     add_broker_credential, paper_fund, set_trading, paper_set_price, audit_balances) and goes LIVE
     with a reason (set_copy_mode live --confirm-live);
  2. sends one signed LIVE signal through gunicorn's webhook (as the TLS proxy would forward it);
  3. checks that every follower's copy is FILLED (show_signal), that after reconciliation (queued to
     the `celery` worker) and the ledger import the ledger holds each fill (export_transactions),
     that beat sent its periodic tasks and the `stops` worker ran one, and that /healthz is green;
  4. stops everything with SIGTERM and fails if a process did not stop cleanly or any check failed,
     printing the relevant log tails.

    .venv/bin/python .ci/production_smoke.py [--followers 3] [--keep-logs]

Environment: NIJA_SMOKE_PG (default postgres://postgres@127.0.0.1:5432), NIJA_SMOKE_REDIS (default
redis://127.0.0.1:6379) and NIJA_SMOKE_REDIS_DB (default 14: flushed at start and end). Logs go to a
temp dir under /tmp, removed after a passing run unless --keep-logs. Exit 0 only when every check
passed and every process stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


class SmokeFailure(Exception):
    """A check failed: the message says which and what was seen."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class Topology:
    """The processes of the run, each in its own process group, with its log file."""

    def __init__(self, env: dict, logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> None:
        out = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        log(f"started {name} (pid {self.procs[name].pid}): {' '.join(argv[2:] if argv[0] == PY else argv)}")

    def text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.text(name).splitlines()[-lines:])

    def wait_for(self, name: str, needle: str, deadline: float) -> None:
        proc = self.procs[name]
        while time.monotonic() < deadline:
            if needle in self.text(name):
                return
            if proc.poll() is not None:
                raise SmokeFailure(f"{name} exited with {proc.returncode} before it was ready")
            time.sleep(0.2)
        raise SmokeFailure(f"{name} not ready in time (no {needle!r} in its log)")

    def alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise SmokeFailure(f"processes exited during the run: {dead}")

    def stop(self, timeout: float = 30) -> list[str]:
        """SIGTERM to every group (warm shutdown), then wait; returns the problems."""
        problems = []
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            try:
                code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append(f"{name} did not stop within {timeout:.0f} s of SIGTERM (killed)")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                continue
            if code != 0:
                problems.append(f"{name} exited with {code} after SIGTERM")
            # Children left behind in the group (a prefork child, a gunicorn worker) count as not stopped.
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                pass
            else:
                problems.append(f"{name} left processes running in its group (killed)")
                os.killpg(proc.pid, signal.SIGKILL)
        return problems


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    # As the TLS reverse proxy forwards it: production redirects plain HTTP and trusts one proxy.
    base = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1", "Host": "127.0.0.1"}
    request = urllib.request.Request(url, data=body, method=method,  # noqa: S310 - http://127.0.0.1 only
                                     headers={**base, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - our own local server
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"raw": raw[:300].decode(errors="replace")}


def command(name: str, *args: str) -> str:
    """A real management command, run in this process (one Django start-up for the whole setup)."""
    from django.core.management import call_command

    out = io.StringIO()
    log(f"$ manage.py {name} {' '.join(args)}")
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def command_json(name: str, *args: str) -> dict:
    return json.loads(command(name, *args, "--json"))


def setup_accounts(followers: list[str]) -> None:
    command("onboard_user", "--user-id", "smoke_master", "--name", "Smoke Master", "--email", "master@example.com",
            "--master", "--initial-capital", "100000")
    for user_id in followers:
        command("onboard_user", "--user-id", user_id, "--name", f"Smoke {user_id}", "--email",
                f"{user_id}@example.com", "--account-type", "investor", "--initial-capital", "10000")
    for user_id, amount in [("master", "100000"), *((u, "10000") for u in followers)]:
        # PAPER ignores the key (the account is the credential); the command still reads it from
        # named environment variables, never argv.
        command("add_broker_credential", user_id, "--venue", "paper", "--paper", "--from-env", "SMOKE_PAPER")
        command("paper_fund", user_id, "--asset", "USD", "--amount", amount)
        command("set_trading", user_id, "enable")
    command("paper_set_price", "BTC/USD", "50000")
    summary = command_json("audit_balances")
    log(f"balance audit: {summary}")
    command("set_copy_mode", "live", "--reason", "production smoke run on PAPER followers", "--confirm-live")


def signal_send(base_url: str, secret: str) -> int:
    body = json.dumps({
        "source_id": f"smoke-{secrets.token_hex(6)}", "venue": "paper", "symbol": "BTC/USD", "side": "buy",
        "amount": "0.1", "price": "50000", "order_type": "market",
        "executed_at": dt.datetime.now(dt.UTC).isoformat(),
    }).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    code, answer = http("POST", f"{base_url}/api/v1/signals", body,
                        {"Content-Type": "application/json", "X-Nija-Timestamp": stamp, "X-Nija-Signature": signature})
    log(f"webhook answered {code} in {(time.perf_counter() - started) * 1000:.0f} ms: {answer}")
    if code != 202:
        raise SmokeFailure(f"the webhook answered {code}, not 202: {answer}")
    return int(answer["signal_id"])


def wait_filled(signal_id: int, followers: list[str], deadline: float) -> dict[str, Decimal]:
    terminal = {"FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "FAILED", "SKIPPED", "OBSERVED"}
    while True:
        shown = json.loads(_quiet("show_signal", str(signal_id), "--json"))
        orders = {o["account"]: o for o in shown["copy_orders"]}
        done = len(orders) == len(followers) and all(o["status"] in terminal for o in orders.values())
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    statuses = {u: orders.get(u, {}).get("status", "no copy order") for u in followers}
    log(f"signal #{signal_id} {shown['signal']['status']}: {statuses}")
    if set(orders) != set(followers) or any(s != "FILLED" for s in statuses.values()):
        others = sorted(set(orders) - set(followers))
        raise SmokeFailure(f"not every follower FILLED: {statuses}, other accounts: {others}")
    return {u: Decimal(orders[u]["quantity"]) for u in followers}


def _quiet(name: str, *args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def wait_ledger(signal_id: int, quantities: dict[str, Decimal], deadline: float) -> None:
    """Reconciliation (fetches each order's fills) and the ledger import run on the `celery` worker,
    queued through Redis by name as beat would queue them."""
    # imported here: Django is set up at run time, after the script picks its database (app registry)
    from copytrading.selectors import signal_copy_orders, signal_get
    from core.enqueue import task_enqueue

    task_enqueue("copytrading.tasks.copy_orders_reconcile_task")
    log("queued copytrading.tasks.copy_orders_reconcile_task")
    sig = signal_get(signal_id=signal_id)
    while not all(o.fills_synced for o in signal_copy_orders(signal=sig)):
        if time.monotonic() > deadline:
            raise SmokeFailure("reconciliation did not store the fills of every copy order in time")
        time.sleep(0.5)
    log("reconciliation stored the fills of every copy order")
    task_enqueue("reporting.tasks.ledger_copy_fills_import_task")
    log("queued reporting.tasks.ledger_copy_fills_import_task")
    missing = dict(quantities)
    while missing and time.monotonic() < deadline:
        for user_id, quantity in list(missing.items()):
            rows = json.loads(_quiet("export_transactions", user_id, "--json"))["transactions"]
            bought = sum((Decimal(r["size"]) for r in rows if r["type"] == "trade" and r["pair"] == "BTC/USD"
                          and r["side"] == "buy"), Decimal("0"))
            if bought == quantity:
                del missing[user_id]
        time.sleep(0.5)
    if missing:
        raise SmokeFailure(f"the ledger lacks the fills of {sorted(missing)} (expected BTC bought: "
                           f"{ {u: str(q) for u, q in missing.items()} })")
    log(f"ledger: every follower's fill is in its ledger ({ {u: str(q) for u, q in quantities.items()} } BTC)")


def healthz(base_url: str) -> None:
    code, body = http("GET", f"{base_url}/healthz")
    log(f"/healthz {code}: {body}")
    if code != 200 or body.get("status") != "ok":
        raise SmokeFailure(f"/healthz is not green: {code} {body}")


def beat_and_stops_checked(topology: Topology, deadline: float) -> None:
    """Beat sends its schedule and the `stops` queue has a worker of its own that runs it."""
    while time.monotonic() < deadline:
        sent = "Sending due task" in topology.text("beat")
        stops_ran = "copytrading.tasks.copy_stops_enforce_task" in topology.text("worker-stops") and \
            "succeeded" in topology.text("worker-stops")
        if sent and stops_ran:
            log("beat sends its schedule; the stops worker ran copy_stops_enforce_task")
            return
        time.sleep(0.5)
    raise SmokeFailure("beat sent no task, or the stops worker ran none, in time")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--followers", type=int, default=3)
    p.add_argument("--timeout", type=float, default=150, help="seconds for the whole scenario")
    p.add_argument("--keep-logs", action="store_true")
    args = p.parse_args()
    if args.followers < 1:
        print("production_smoke: --followers must be at least 1", file=sys.stderr)
        return 2

    pg = os.environ.get("NIJA_SMOKE_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    redis_base = os.environ.get("NIJA_SMOKE_REDIS", "redis://127.0.0.1:6379").rstrip("/")
    redis_url = f"{redis_base}/{int(os.environ.get('NIJA_SMOKE_REDIS_DB', '14'))}"
    db_name = f"nija_smoke_{os.getpid()}"
    logs = Path(tempfile.mkdtemp(prefix="nija-prod-smoke-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    signal_secret = secrets.token_urlsafe(32)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NIJA_", "CELERY_"))},
        "DJANGO_SETTINGS_MODULE": "nija_site.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "NIJA_CREDENTIAL_KEYS": fernet_key(),
        "NIJA_SIGNAL_SECRET": signal_secret,
        "DATABASE_URL": f"{pg}/{db_name}",
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
        "NIJA_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "SMOKE_PAPER_API_KEY": "paper-smoke-key",
        "SMOKE_PAPER_API_SECRET": secrets.token_urlsafe(16),
    }
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(f"BENCH_{key}", None)
    log(f"production smoke: database {db_name}, Redis {redis_url}, web {base_url}, logs {logs}")

    import psycopg
    import redis

    admin_db = f"{pg}/postgres"
    try:
        redis_client = redis.Redis.from_url(redis_url)
        redis_client.flushdb()  # the run's own db: nothing of another run's in the queues
        with psycopg.connect(admin_db, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    except (psycopg.Error, redis.RedisError) as exc:
        print(f"production_smoke: PostgreSQL ({pg}) or Redis ({redis_url}) is not usable: "
              f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}", file=sys.stderr)
        shutil.rmtree(logs, ignore_errors=True)
        return 1

    topology = Topology(env, logs)
    failures: list[str] = []
    followers = [f"smoke_f{i}" for i in range(1, args.followers + 1)]
    deadline = STARTED + args.timeout
    try:
        # The three need nothing of one another (collectstatic and the deploy checks read no table):
        # run side by side, they cost one start-up's wall time instead of three.
        steps = (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"],
                 ["check", "--deploy", "--fail-level", "WARNING"])
        running = [(step, subprocess.Popen([PY, "manage.py", *step], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True))
                   for step in steps]
        for step, proc in running:
            try:
                output, _ = proc.communicate(timeout=max(10, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for _step, other in running:
                    other.kill()
                raise SmokeFailure(f"manage.py {step[0]} did not finish in time") from None
            log(f"$ manage.py {' '.join(step)}: exit {proc.returncode}")
            if proc.returncode != 0:
                raise SmokeFailure(f"manage.py {step[0]} failed:\n{output[-3000:]}")

        topology.start("gunicorn", [PY, "-m", "gunicorn", "nija_site.wsgi", "--workers", "2", "--bind",
                                    f"127.0.0.1:{port}", "--graceful-timeout", "10", "--access-logfile", "-",
                                    "--control-socket", str(logs / "gunicorn.ctl")])
        topology.start("worker-celery", [PY, "-m", "celery", "-A", "nija_site", "worker", "-l", "info", "-Q", "celery",
                                         "--concurrency", "2", "-n", f"celery-{db_name}@%h"])
        topology.start("worker-stops", [PY, "-m", "celery", "-A", "nija_site", "worker", "-l", "info", "-Q", "stops",
                                        "--concurrency", "1", "-n", f"stops-{db_name}@%h"])
        topology.start("beat", [PY, "-m", "celery", "-A", "nija_site", "beat", "-l", "info"])

        # The setup runs while the services start: same settings, same database, same Redis.
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        setup_accounts(followers)

        topology.wait_for("gunicorn", "Booting worker", deadline)
        topology.wait_for("worker-celery", " ready.", deadline)
        topology.wait_for("worker-stops", " ready.", deadline)
        topology.wait_for("beat", "beat: Starting", deadline)
        while True:
            try:
                healthz(base_url)
                break
            except (SmokeFailure, OSError) as exc:
                if time.monotonic() > deadline:
                    raise SmokeFailure(f"/healthz never went green: {exc}") from exc
                time.sleep(0.5)

        signal_id = signal_send(base_url, signal_secret)
        quantities = wait_filled(signal_id, followers, deadline)
        wait_ledger(signal_id, quantities, deadline)
        beat_and_stops_checked(topology, deadline)
        healthz(base_url)
        topology.alive()
    except SmokeFailure as exc:
        failures.append(str(exc))
    except Exception as exc:  # a crash of the scenario itself is a failed check too, with its cause
        failures.append(f"the scenario stopped: {type(exc).__name__}: {exc}")
    finally:
        problems = topology.stop()
        cleanup_started = time.monotonic()
        failures += problems
        if not problems:
            log(f"stopped cleanly: {', '.join(topology.procs)}")
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up if the run failed early
            pass
        try:
            with psycopg.connect(admin_db, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            redis_client.flushdb()
        except Exception as exc:
            failures.append(f"cleanup failed: {exc}")

    elapsed = time.monotonic() - STARTED
    log(f"cleanup (database dropped, Redis db flushed) took {time.monotonic() - cleanup_started:.0f} s")
    if failures:
        print("\nPRODUCTION SMOKE FAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        for name in topology.procs:
            print(f"\n--- {name} (last 40 lines of {logs / (name + '.log')})\n{topology.tail(name)}", file=sys.stderr)
        return 1
    log(f"production smoke passed in {elapsed:.0f} s: {len(followers)} PAPER followers FILLED, fills in the "
        f"ledger, /healthz green, every process stopped")
    if not args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
