"""Personal access tokens: created by command or admin and shown once, stored as a digest, used with
`Authorization: Bearer`, read-only, revocable, expiring, audited; an investor's token reads only
their own account."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiToken
from accounts.selectors import api_token_get
from accounts.services import api_token_revoke
from compliance.models import AuditEvent


def _create(username: str, *args: str) -> dict:
    out = io.StringIO()
    call_command("api_token_create", username, "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def investor(make_account):
    user = User.objects.create_user("daivon", password="pw-token-test")
    account = make_account("daivon_frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    make_account("tania_gilbert")
    return user


def test_an_investor_token_reads_their_own_account_and_nothing_else(client, investor):
    created = _create("daivon", "--name", "spreadsheet")
    token = created["token"]
    assert token.startswith("nija_") and len(token) > 40
    row = ApiToken.objects.get(pk=created["id"])
    assert token not in json.dumps(list(ApiToken.objects.values()), default=str)  # only the digest is kept
    assert row.last_used_at is None

    own = client.get("/api/v1/accounts/me/positions", **_bearer(token))
    assert own.status_code == 200 and own.json()["user_id"] == "daivon_frazier"
    assert client.get("/api/v1/accounts/daivon_frazier/transactions", **_bearer(token)).status_code == 200
    other = client.get("/api/v1/accounts/tania_gilbert/transactions", **_bearer(token))
    assert other.status_code == 404 and "tania" not in other.content.decode()
    assert client.get("/api/v1/users", **_bearer(token)).status_code == 403
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_token_only_reads(client, investor):
    token = _create("daivon")["token"]
    refused = client.post("/api/v1/accounts/me/positions", **_bearer(token))
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "API tokens are read-only"


def test_a_staff_token_reads_the_staff_endpoints(client, db):
    viewer = User.objects.create_user("vera", password="pw-token-test", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    token = _create("vera")["token"]
    assert client.get("/api/v1/users", **_bearer(token)).status_code == 200
    assert client.get("/admin/", **_bearer(token)).status_code == 302  # tokens open the API only, not the admin


def test_a_revoked_token_is_refused_from_its_next_request(client, investor):
    created = _create("daivon")
    assert client.get("/api/v1/accounts/me/positions", **_bearer(created["token"])).status_code == 200
    out = io.StringIO()
    call_command("api_token_revoke", str(created["id"]), "--reason", "laptop lost", stdout=out)
    assert "revoked" in out.getvalue()
    refused = client.get("/api/v1/accounts/me/positions", **_bearer(created["token"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    assert refused["WWW-Authenticate"].startswith("Bearer")
    actions = list(AuditEvent.objects.filter(target_type="api_token", target_id=str(created["id"]))
                   .order_by("seq").values_list("action", "reason"))
    assert actions == [("API_TOKEN_CREATE", ""), ("API_TOKEN_REVOKE", "laptop lost")]
    again = api_token_revoke(actor="test", token=api_token_get(token_id=created["id"]))  # no second event
    assert again.revoked_at is not None and AuditEvent.objects.filter(action="API_TOKEN_REVOKE").count() == 1


def test_an_expired_token_is_refused(client, investor, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    token = _create("daivon", "--expires-days", "1")["token"]
    assert client.get("/api/v1/accounts/me/positions", **_bearer(token)).status_code == 200
    time_machine.shift(dt.timedelta(days=1, seconds=1))
    assert client.get("/api/v1/accounts/me/positions", **_bearer(token)).status_code == 401


@pytest.mark.parametrize("header", ["Bearer nija_not-a-real-token", "Bearer", "Bearer a b", "Bearer \u00e9t\u00e9"])
def test_a_bad_token_is_a_401_in_the_error_shape(client, investor, header):
    response = client.get("/api/v1/accounts/me/positions", HTTP_AUTHORIZATION=header.encode().decode("latin-1"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"


def test_anonymous_gets_401_with_the_bearer_challenge(client, db):
    response = client.get("/api/v1/accounts/me/positions")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("args, message", [
    (["nobody"], "no user with username 'nobody'"),
    (["daivon", "--expires-days", "0"], "expires_days must be between 1 and 3650"),
    (["daivon", "--name", " "], "a token needs a name"),
])
def test_bad_command_input_changes_nothing(investor, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_token_create", *args, stdout=io.StringIO())
    assert not ApiToken.objects.exists() and not AuditEvent.objects.filter(target_type="api_token").exists()


def test_the_admin_shows_a_new_token_once(client, investor):
    operator = User.objects.create_user("otto", password="pw-token-test", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    client.force_login(operator)
    page = client.post("/admin/accounts/apitoken/add/", {"user": investor.pk, "name": "from admin",
                                                         "expires_days": "30"})
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    token = ApiToken.objects.get(name="from admin")
    text = page.context["token_text"]
    assert text in page.content.decode() and token.expires_at > timezone.now() + dt.timedelta(days=29)
    listing = client.get("/admin/accounts/apitoken/").content.decode()
    detail = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert "from admin" in listing and text not in listing and text not in detail
    client.logout()
    assert client.get("/api/v1/accounts/me/positions", **_bearer(text)).status_code == 200


def test_an_operator_cannot_make_a_token_for_another_staff_member_and_a_viewer_none(client, db):
    admin_user = User.objects.create_superuser("root", password="pw-token-test")
    operator = User.objects.create_user("otto", password="pw-token-test", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    client.force_login(operator)
    page = client.post("/admin/accounts/apitoken/add/", {"user": admin_user.pk, "name": "escalate"})
    assert page.status_code == 200 and "Only a superuser may create a token" in page.content.decode()
    viewer = User.objects.create_user("vera", password="pw-token-test", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    assert client.post("/admin/accounts/apitoken/add/", {"user": viewer.pk, "name": "mine"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_the_admin_revoke_action_revokes(client, investor):
    created = _create("daivon")
    operator = User.objects.create_user("otto", password="pw-token-test", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    client.force_login(operator)
    client.post("/admin/accounts/apitoken/", {"action": "revoke_tokens", "_selected_action": [created["id"]],
                                             "apply": "1", "reason": "rotated"})
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None
    client.logout()
    assert client.get("/api/v1/accounts/me/positions", **_bearer(created["token"])).status_code == 401
