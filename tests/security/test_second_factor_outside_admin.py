"""Issue 11 §3: the staff second factor holds outside the admin too. A staff session that has not
given its authenticator code, or that must set one up first (NIJA_OTP_REQUIRED: superusers and
operators), is refused by the API's session authentication and sent back from every page outside
/admin/ (the portal's staff view of any account included). Personal access tokens are their own door."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account
from accounts.services import api_token_create

pytestmark = pytest.mark.django_db
STAFF_API = "/api/v1/accounts"
PORTAL_STAFF_VIEW = "/portal/?user_id=daivon_frazier"


def _staff(username: str, group: str = "operator") -> User:
    user = User.objects.create_user(username, password="correct-horse-battery-staple", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _superuser() -> User:
    return User.objects.create_superuser("root", password="correct-horse-battery-staple")


def _verified(client, user: User) -> None:
    """Signed in with the code: the session holds the device, as django_otp.login() leaves it."""
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()


def _refusal(response) -> dict:
    assert response.status_code == 403, response.content[:300]
    return response.json()["error"]


@pytest.fixture
def required(settings, make_account):
    settings.NIJA_OTP_REQUIRED = True
    make_account("daivon_frazier")


def test_an_operator_who_must_set_up_an_authenticator_reaches_no_staff_api(client, required):
    client.force_login(_staff("olga"))
    error = _refusal(client.get(STAFF_API))
    assert error["code"] == "otp_required" and "/admin/two-factor/" in error["message"]
    assert _refusal(client.get("/api/v1/audit-events"))["code"] == "otp_required"
    assert _refusal(client.get("/api/users"))["code"] == "otp_required"
    # the schema and docs render YAML/HTML, but their refusal is the same JSON error with its code
    assert _refusal(client.get("/api/v1/schema/"))["code"] == "otp_required"
    assert _refusal(client.get("/api/v1/docs/"))["code"] == "otp_required"


def test_a_session_that_never_gave_its_code_reaches_no_staff_api(client, required):
    user = _superuser()
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)  # the password only
    error = _refusal(client.get(STAFF_API))
    assert error["code"] == "otp_required" and "authenticator code" in error["message"]
    assert _refusal(client.get("/api/v1/accounts/daivon_frazier/positions"))["code"] == "otp_required"


def test_a_viewer_with_an_authenticator_set_up_must_give_its_code_too(client, settings):
    viewer = _staff("vera", "viewer")
    TOTPDevice.objects.create(user=viewer, name="authenticator", confirmed=True)
    client.force_login(viewer)
    assert _refusal(client.get(STAFF_API))["code"] == "otp_required"


def test_the_portals_staff_view_sends_an_unverified_session_to_the_second_factor(client, required):
    client.force_login(_staff("olga"))
    setup = client.get(PORTAL_STAFF_VIEW)
    assert setup.status_code == 302 and setup["Location"] == "/admin/two-factor/"
    client.logout()
    user = _superuser()
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)
    for path in (PORTAL_STAFF_VIEW, "/portal/trades.csv?user_id=daivon_frazier", "/users"):
        code = client.get(path)
        assert code.status_code == 302 and code["Location"].startswith("/admin/login/?next="), path
    # signing out and resetting a password stay open
    assert client.get("/portal/password/reset/").status_code == 200
    assert client.get("/password-reset/").status_code == 200


def test_a_verified_session_reaches_the_api_and_the_portal(client, required):
    user = _superuser()
    _verified(client, user)
    assert client.get(STAFF_API).status_code == 200
    assert client.get(PORTAL_STAFF_VIEW).status_code == 200


def test_a_viewer_without_an_authenticator_is_not_asked_for_one(client, required):
    client.force_login(_staff("vera", "viewer"))  # optional for viewers
    assert client.get(STAFF_API).status_code == 200


def test_without_the_requirement_an_operator_without_an_authenticator_goes_on(client, settings, make_account):
    settings.NIJA_OTP_REQUIRED = False
    client.force_login(_staff("olga"))
    assert client.get(STAFF_API).status_code == 200


def test_investors_are_not_asked_for_a_second_factor(client, required, django_user_model):
    investor = django_user_model.objects.create_user("daivon", password="pw")
    Account.objects.filter(user_id="daivon_frazier").update(portal_user=investor)
    client.force_login(investor)
    assert client.get("/api/v1/accounts/me/positions").status_code == 200
    assert client.get("/portal/").status_code == 200


def test_a_personal_access_token_is_a_separate_door(client, required):
    user = _staff("olga")
    _token, secret = api_token_create(actor="test", user=user, name="nightly export")
    response = client.get(STAFF_API, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
