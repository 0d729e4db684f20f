"""Shared fixtures. Services: tests that need PostgreSQL or Redis skip on a developer machine
without them and FAIL in CI (NIJA_REQUIRE_SERVICES=1), so CI can never pass by skipping."""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection

from accounts.models import Account
from accounts.services import account_onboard, account_trading_enable


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Derived figures (the overview, tax reports) are cached under keys made of ids and times; test
    # databases reuse ids and frozen clocks repeat times, so nothing cached may outlive its test.
    for store in (cache, caches["overview"]):
        store.clear()
    yield
    for store in (cache, caches["overview"]):
        store.clear()


def _missing(what: str) -> None:
    if settings.NIJA_REQUIRE_SERVICES or os.environ.get("NIJA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (NIJA_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture
def postgres() -> None:
    """Use in tests whose point is PostgreSQL behaviour (row locks, concurrency)."""
    if connection.vendor != "postgresql":
        _missing("PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        _missing("Redis (set REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _missing(f"Redis at {url} ({exc})")
    return url


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (worker, second appender) that must use the same test
    database as this test. Call it inside a test that uses `transactional_db`."""
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nija_site.settings.test", "PYTHONUNBUFFERED": "1"}
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or ''}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env.update(extra)
    return env


@pytest.fixture
def make_account(db):
    """Onboard an account through the real service. `active=True` enables trading."""
    counter = {"n": 0}

    def make(user_id: str | None = None, *, active: bool = True, master: bool = False,
             risk_tolerance: str = "MEDIUM", **kwargs) -> Account:
        counter["n"] += 1
        user_id = user_id or f"user_{counter['n']}"
        account = account_onboard(
            actor="test", user_id=user_id, full_name=kwargs.pop("full_name", user_id.replace("_", " ").title()),
            email=kwargs.pop("email", f"{user_id}@example.com"), master=master, risk_tolerance=risk_tolerance,
            initial_capital=kwargs.pop("initial_capital", Decimal("1000")), **kwargs,
        )
        if active:
            account = account_trading_enable(actor="test", account=account)
        return account

    return make


# --- a real SMTP server (aiosmtpd on a local port) behind Django's SMTP backend ---------------------
class Recorder:
    """An SMTP server's handler: keeps every accepted message; `refuse` answers 451 to DATA."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.original_content,
                                                                     policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", controller.port, 10
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()
