import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "nija_site.settings.production",
    "SECRET_KEY": "x" * 20 + "-production-secret-for-the-deploy-check-only-0123456789",
    "NIJA_CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "backoffice.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    ignored = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run([sys.executable, "manage.py", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "NIJA_CREDENTIAL_KEYS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    proc = _manage("check", env=env)
    assert proc.returncode != 0
    assert f"{missing} must" in proc.stderr
    # one line naming the variable, no traceback
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["only", "second"])
def test_an_invalid_credential_key_fails_the_system_check_without_showing_it(bad):
    # a good key first and a bad one second must fail as well (ids stay fixed for xdist)
    keys = "not-a-fernet-key" if bad == "only" else f"{Fernet.generate_key().decode()},short"
    proc = _manage("check", env={"DJANGO_SETTINGS_MODULE": "nija_site.settings.local", "NIJA_CREDENTIAL_KEYS": keys})
    assert proc.returncode != 0
    assert "brokers.E001" in proc.stderr and "is not a Fernet key" in proc.stderr
    assert "not-a-fernet-key" not in proc.stderr + proc.stdout and "short" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_production_requires_two_factor_sign_in_for_operators_and_superusers():
    proc = _manage("shell", "-c", "from django.conf import settings; print(settings.NIJA_OTP_REQUIRED)",
                   env=PRODUCTION_ENV)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True"  # shell may first say what it auto-imported


def test_production_check_deploy_is_clean():
    proc = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert proc.returncode == 0, proc.stderr
    assert "no issues" in proc.stdout


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok" and body["database"]["ok"] and body["broker"]["ok"]


def test_healthz_is_503_when_the_broker_is_unreachable(client, db, settings):
    from nija_site.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_EMBEDDED = False
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable" and body["broker"]["ok"] is False and body["database"]["ok"]
