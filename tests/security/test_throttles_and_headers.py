"""API throttles (per user, per address, the webhook per source), /healthz detail only for staff,
Content-Security-Policy on pages, stored report HTML sandboxed, staff idle session expiry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from copytrading.models import MasterSignal
from reporting.services import ledger_import_csv, report_generate

pytestmark = pytest.mark.django_db
CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n")


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user": "100000/min", "address": "100000/min", "signal_source": "100000/min", **rates}}


@pytest.fixture
def investor(make_account):
    user = User.objects.create_user("daivon", password="pw-throttle")
    account = make_account("daivon_frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    ledger_import_csv(actor="test", account=account, text=CSV)
    return user, account


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "throttled" and "throttled" in error["message"].lower()
    assert int(response["Retry-After"]) > 0


def test_a_signed_in_user_is_throttled_whatever_their_address(settings, investor):
    _rates(settings, user="3/min")
    user, _ = investor
    answers = []
    for n in range(4):
        c = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")
        c.force_login(user)
        answers.append(c.get("/api/v1/accounts/me/positions"))
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    _assert_throttled(answers[3])


def test_one_address_is_throttled_whichever_user_signs_in_from_it(settings, investor, make_account):
    _rates(settings, address="2/min")
    user, _ = investor
    second = User.objects.create_user("tania", password="pw-throttle")
    account = make_account("tania_gilbert")
    account.portal_user = second
    account.save(update_fields=["portal_user"])
    answers = []
    for who in (user, second, second):
        c = Client(REMOTE_ADDR="10.1.1.1")
        c.force_login(who)
        answers.append(c.get("/api/v1/accounts/me/positions"))
    assert [r.status_code for r in answers[:2]] == [200, 200]
    _assert_throttled(answers[2])
    elsewhere = Client(REMOTE_ADDR="10.1.1.2")
    elsewhere.force_login(second)
    assert elsewhere.get("/api/v1/accounts/me/positions").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings, investor):
    _rates(settings, address="1/min")
    settings.NIJA_TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    proxy.force_login(investor[0])
    url = "/api/v1/accounts/me/positions"
    # the client's own X-Forwarded-For entry (left) is not trusted; the proxy's (right) is
    assert proxy.get(url, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5").status_code == 200
    _assert_throttled(proxy.get(url, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5"))
    assert proxy.get(url, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200


def test_the_webhook_has_its_own_stricter_rate_per_source_and_stores_nothing_over_it(settings):
    _rates(settings, signal_source="2/min")
    settings.NIJA_SIGNAL_SECRET = "s3cret-for-throttle-test"
    source = Client(REMOTE_ADDR="198.51.100.7")
    answers = [source.post("/api/v1/signals", data=b"{}", content_type="application/json") for _ in range(3)]
    assert [r.status_code for r in answers[:2]] == [401, 401]  # unsigned: refused, but counted
    _assert_throttled(answers[2])
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.post("/api/v1/signals", data=b"{}", content_type="application/json").status_code == 401
    assert MasterSignal.objects.count() == 0


def test_healthz_hides_error_text_from_anonymous_callers_and_shows_it_to_staff(client, settings):
    from nija_site.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_EMBEDDED = False
    try:
        anonymous = client.get("/healthz")
        staff = Client()
        staff.force_login(User.objects.create_user("olga", password="pw", is_staff=True))
        detailed = staff.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert anonymous.status_code == detailed.status_code == 503
    body = anonymous.json()
    assert body["broker"] == {"ok": False, "detail": "unavailable"} and body["database"] == {"ok": True, "detail": "ok"}
    assert "127.0.0.1" not in anonymous.content.decode() and ":1" not in json.dumps(body["broker"])
    assert detailed.json()["broker"]["ok"] is False and detailed.json()["broker"]["detail"] != "unavailable"


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.strip().split(" ", 1)[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/admin/login/", "/portal/login/"])
def test_pages_carry_a_content_security_policy_without_inline_script(client, url):
    policy = _policy(client.get(url))
    assert policy["script-src"] == "script-src 'self'"
    assert policy["object-src"] == "object-src 'none'" and policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["default-src"] == "default-src 'self'"


def test_stored_report_html_is_served_sandboxed(client, investor):
    user, account = investor
    report = report_generate(account=account, period="daily", day=dt.date(2026, 1, 5))
    client.force_login(user)
    response = client.get(f"/portal/reports/{report.pk}/")
    assert response.status_code == 200
    policy = _policy(response)
    assert "sandbox" in policy and policy["default-src"] == "default-src 'none'"
    assert "script-src" not in policy  # default-src 'none' covers script: nothing runs


def test_staff_sessions_expire_after_the_idle_time_investors_keep_the_default(client, settings, investor):
    settings.NIJA_STAFF_SESSION_IDLE_SECONDS = 600
    staff = User.objects.create_user("olga", password="pw", is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.get("/admin/")
    assert client.session.get_expiry_age() == 600
    investor_client = Client()
    investor_client.force_login(investor[0])
    investor_client.get("/portal/")
    assert investor_client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
