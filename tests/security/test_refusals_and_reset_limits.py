"""Issue 11 §3: refused anonymous API calls count against their address too (a token guesser meets
a 429), and password-reset requests, staff and portal, are rate limited per client address and per
e-mail address with a clear message and nothing sent."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from compliance.models import Communication

pytestmark = pytest.mark.django_db
HIGH = {"user": "100000/min", "address": "100000/min", "signal_source": "100000/min",
        "refused_anonymous": "100000/min", "password_reset_address": "100000/min",
        "password_reset_email": "100000/min"}


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**HIGH, **rates}}


def _throttled(response) -> dict:
    assert response.status_code == 429, response.content[:300]
    assert response["Content-Type"].startswith("application/json") and int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "throttled"
    return error


@pytest.fixture
def investor(make_account):
    user = User.objects.create_user("daivon", email="daivon@example.com", password="pw-refusals")
    account = make_account("daivon_frazier", email="daivon@example.com")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    return user


def test_refused_anonymous_calls_are_throttled_per_address(settings):
    _rates(settings, refused_anonymous="3/min")
    guesser = Client(REMOTE_ADDR="10.9.9.9")
    answers = [guesser.get("/api/v1/accounts/me/positions"),
               guesser.get("/api/v1/users", HTTP_AUTHORIZATION="Bearer nija_wrong-guess-1"),
               guesser.get("/api/v1/accounts", HTTP_AUTHORIZATION="Bearer nija_wrong-guess-2")]
    assert [r.status_code for r in answers] == [401, 401, 401]
    error = _throttled(guesser.get("/api/v1/accounts", HTTP_AUTHORIZATION="Bearer nija_wrong-guess-3"))
    assert "too many refused calls from this address" in error["message"]
    assert Client(REMOTE_ADDR="10.9.9.10").get("/api/v1/accounts").status_code == 401  # another address


def test_bad_webhook_signatures_count_as_refused_calls(settings):
    _rates(settings, refused_anonymous="2/min")
    settings.NIJA_SIGNAL_SECRET = "webhook-secret-for-the-test"
    sender = Client(REMOTE_ADDR="10.9.9.11")
    for _ in range(2):
        refused = sender.post("/api/v1/signals", data="{}", content_type="application/json",
                              HTTP_X_NIJA_TIMESTAMP="1", HTTP_X_NIJA_SIGNATURE="00")
        assert refused.status_code == 401
    _throttled(sender.post("/api/v1/signals", data="{}", content_type="application/json"))


def test_a_signed_in_session_from_that_address_still_gets_in(settings, investor):
    _rates(settings, refused_anonymous="1/min")
    shared = Client(REMOTE_ADDR="10.9.9.12")
    assert shared.get("/api/v1/accounts/me/positions").status_code == 401
    _throttled(shared.get("/api/v1/accounts/me/positions"))
    shared.force_login(investor)
    assert shared.get("/api/v1/accounts/me/positions").status_code == 200


def test_a_signed_in_callers_refusals_are_not_counted_as_anonymous(settings, investor):
    _rates(settings, refused_anonymous="1/min")
    client = Client(REMOTE_ADDR="10.9.9.13")
    client.force_login(investor)
    for _ in range(3):
        assert client.get("/api/v1/accounts").status_code == 403  # an investor on a staff endpoint
    client.logout()
    assert client.get("/api/v1/accounts").status_code == 401  # the first anonymous refusal


def test_pages_outside_the_api_are_not_touched(settings):
    _rates(settings, refused_anonymous="1/min")
    client = Client(REMOTE_ADDR="10.9.9.14")
    for _ in range(3):
        assert client.get("/portal/").status_code == 302  # to the sign-in page, as always


# --- password-reset requests ---------------------------------------------------------------
def test_staff_reset_requests_for_one_email_are_limited_with_a_clear_message(settings):
    _rates(settings, password_reset_email="2/hour")
    User.objects.create_user("olga", email="olga@nija.example", password="old-password-1", is_staff=True)
    for n in range(2):
        sent = Client(REMOTE_ADDR=f"10.8.0.{n + 1}").post("/password-reset/", {"email": "olga@nija.example"})
        assert sent.status_code == 302
    refused = Client(REMOTE_ADDR="10.8.0.3").post("/password-reset/", {"email": "OLGA@nija.example"})
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many password-reset requests for this e-mail address: try again in 60 minutes." in page
    assert Communication.objects.filter(kind="staff_password_reset").count() == 2  # the refused one logs nothing
    # an address nobody has is limited the same way, so the answer tells nothing about who exists
    for _ in range(2):
        assert Client().post("/password-reset/", {"email": "nobody@example.com"}).status_code == 302
    assert Client().post("/password-reset/", {"email": "nobody@example.com"}).status_code == 429


def test_reset_requests_from_one_address_are_limited_whatever_the_email(settings):
    _rates(settings, password_reset_address="2/hour")
    client = Client(REMOTE_ADDR="10.8.1.1")
    assert [client.post("/password-reset/", {"email": f"u{n}@example.com"}).status_code for n in range(2)] == [302,
                                                                                                              302]
    refused = client.post("/password-reset/", {"email": "u3@example.com"})
    assert refused.status_code == 429
    assert "Too many password-reset requests from your network address" in refused.content.decode()
    assert Client(REMOTE_ADDR="10.8.1.2").post("/password-reset/", {"email": "u3@example.com"}).status_code == 302


def test_portal_reset_requests_are_limited_and_send_nothing_more(settings, investor):
    _rates(settings, password_reset_email="1/hour")
    assert Client().post("/portal/password/reset/", {"email": "daivon@example.com"}).status_code == 302
    sent = Communication.objects.count()
    refused = Client().post("/portal/password/reset/", {"email": "daivon@example.com"})
    assert refused.status_code == 429
    assert "Too many password-reset requests for this e-mail address" in refused.content.decode()
    assert Communication.objects.count() == sent
