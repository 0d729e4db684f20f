"""Getting into the investor portal: invitation (command and admin action), the one-time link,
sign-in, sign-out, password change and reset, and a closed account's investor."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.services import account_deactivate, account_update, portal_invitation_send
from compliance.models import AuditEvent, Communication
from core.errors import ApplicationError

LINK = re.compile(r"http://\S+?(/portal/(?:invitation|password/reset)/[^/\s]+/[^/\s]+/)")
PASSWORD = "correct horse battery 42"


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """Invite through the real command; returns the path of the link in the e-mail actually sent."""

    def run(user_id: str, *extra: str) -> str:
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("invite_investor", user_id, *extra)
        assert len(mail.outbox) == before + 1
        return LINK.search(mail.outbox[-1].body).group(1)

    return run


def _set_password(client, path: str, password: str = PASSWORD):
    form = client.get(path, follow=True)
    assert form.status_code == 200 and b"New password" in form.content, form.content.decode()[:500]
    done = client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert done.status_code == 302, done.content.decode()
    return done


def test_invitation_creates_the_login_and_its_link_sets_the_password_once(client, make_account, invite):
    account = make_account("daivon_frazier")
    path = invite("daivon_frazier")
    account.refresh_from_db()
    user = account.portal_user
    assert user.username == "daivon_frazier" and not user.has_usable_password() and not user.is_staff
    message = mail.outbox[-1]
    assert message.to == [account.email] and "Your username: daivon_frazier" in message.body
    # The log has the message without a usable link; the audit chain has the invitation.
    logged = Communication.objects.get(account=account, kind="invitation")
    assert logged.status == "sent" and "/portal/invitation/" not in logged.body and "one-time link" in logged.body
    event = AuditEvent.objects.get(action="PORTAL_INVITE", target_id="daivon_frazier")
    assert event.after["login"] == "daivon_frazier" and event.after["communication_id"] == logged.id

    done = _set_password(client, path)
    assert done.status_code == 302 and done["Location"] == "/portal/password/set/"
    assert AuditEvent.objects.filter(action="PORTAL_PASSWORD_SET", reason="invitation").count() == 1
    again = client.get(path, follow=True)
    assert b"already been used" in again.content and b"New password" not in again.content

    signed_in = client.post("/portal/login/", {"username": "daivon_frazier", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/portal/"
    assert b"Daivon Frazier" in client.get("/portal/").content
    assert client.post("/portal/logout/").status_code == 302
    assert client.get("/portal/").status_code == 302


def test_reinviting_kills_the_older_link(client, make_account, invite):
    make_account("daivon_frazier")
    first = invite("daivon_frazier")
    second = invite("daivon_frazier")
    assert first != second
    old = client.get(first, follow=True)
    assert b"replaced by a newer invitation" in old.content and b"New password" not in old.content
    assert _set_password(client, second).status_code == 302
    assert client.login(username="daivon_frazier", password=PASSWORD)


def test_an_expired_link_says_so(client, make_account, invite, settings):
    settings.NIJA_PORTAL_INVITE_DAYS = 2
    make_account("daivon_frazier")
    path = invite("daivon_frazier")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2, hours=1)):
        page = client.get(path, follow=True)
    assert b"has expired" in page.content and b"New password" not in page.content


def test_a_forged_link_is_refused(client, make_account, invite):
    make_account("daivon_frazier")
    path = invite("daivon_frazier")
    uid = path.split("/")[3]
    for bad in (f"/portal/invitation/{uid}/abc-def/", f"/portal/invitation/{uid}/nodash/",
                "/portal/invitation/AAAA/abc-123/", f"/portal/invitation/{uid}/set-password/"):
        page = client.get(bad, follow=True)
        assert page.status_code == 200 and b"New password" not in page.content, bad
        assert b"not valid" in page.content or b"replaced" in page.content, bad
    assert not User.objects.get(username="daivon_frazier").has_usable_password()


def test_an_investor_with_a_password_is_only_reinvited_with_reset(client, make_account, invite):
    account = make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    messages = Communication.objects.filter(kind="invitation").count()
    with pytest.raises(CommandError, match="already set a portal password"):
        call_command("invite_investor", "daivon_frazier")
    assert Communication.objects.filter(kind="invitation").count() == messages
    assert client.login(username="daivon_frazier", password=PASSWORD)  # unchanged
    path = invite("daivon_frazier", "--reset")
    assert not client.login(username="daivon_frazier", password=PASSWORD)
    assert _set_password(client, path, "another long passphrase 7").status_code == 302
    account.refresh_from_db()
    assert account.portal_user.check_password("another long passphrase 7")


def test_invitation_refusals_write_nothing(make_account):
    make_account("the_master", master=True)
    make_account("tania_gilbert")
    User.objects.create_user("tania_gilbert", password="x")  # a login of that name, not linked
    before = (User.objects.count(), Communication.objects.count(), AuditEvent.objects.count())
    for user_id, problem in (("no_such_user", "no account"), ("master", "MASTER"),
                             ("tania_gilbert", "already exists")):
        with pytest.raises(CommandError, match=problem):
            call_command("invite_investor", user_id)
    assert (User.objects.count(), Communication.objects.count(), AuditEvent.objects.count()) == before


def test_staff_invite_from_the_account_admin(admin_client, make_account, django_capture_on_commit_callbacks):
    account = make_account("daivon_frazier")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/accounts/account/", {
            "action": "invite_to_portal", "_selected_action": [account.pk]}, follow=True)
    assert b"invitation sent" in response.content
    account.refresh_from_db()
    assert account.portal_user.username == "daivon_frazier"
    assert LINK.search(mail.outbox[-1].body)
    assert AuditEvent.objects.get(action="PORTAL_INVITE").actor == "admin"


def test_password_reset_by_email_goes_through_the_log(client, make_account, invite,
                                                      django_capture_on_commit_callbacks):
    account = make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post("/portal/password/reset/", {"email": "nobody@example.com"})
    assert unknown.status_code == 302 and len(mail.outbox) == sent  # the same answer, nothing sent
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/portal/password/reset/", {"email": account.email.upper()})
    assert known["Location"] == unknown["Location"] == "/portal/password/reset/sent/"
    logged = Communication.objects.get(kind="password_reset")
    assert "/portal/password/reset/" not in logged.body
    path = LINK.search(mail.outbox[-1].body).group(1)
    assert _set_password(client, path, "brand new passphrase 9").status_code == 302
    assert client.login(username="daivon_frazier", password="brand new passphrase 9")
    assert b"no longer valid" in client.get(path, follow=True).content


def test_a_portal_password_reset_clears_a_lockout_and_audits_it(client, make_account, invite, settings,
                                                                 django_capture_on_commit_callbacks):
    account = make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/portal/login/", {"username": "daivon_frazier", "password": "wrong"})
    locked = client.post("/portal/login/", {"username": "daivon_frazier", "password": PASSWORD})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portal/password/reset/", {"email": account.email})
    assert _set_password(client, LINK.search(mail.outbox[-1].body).group(1), "brand new passphrase 9")
    event = AuditEvent.objects.get(action="login.unlock")
    assert (event.actor, event.target_id, event.reason) == ("daivon_frazier", "daivon_frazier",
                                                            "password reset by e-mail")
    assert event.before["locked"] is True and event.after == {"failures": 0, "locked": False}
    signed_in = client.post("/portal/login/", {"username": "daivon_frazier", "password": "brand new passphrase 9"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/portal/"


def test_a_portal_password_reset_without_failures_writes_no_unlock(client, make_account, invite,
                                                                   django_capture_on_commit_callbacks):
    account = make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portal/password/reset/", {"email": account.email})
    _set_password(client, LINK.search(mail.outbox[-1].body).group(1), "brand new passphrase 9")
    assert not AuditEvent.objects.filter(action="login.unlock").exists()


def test_password_change_needs_the_current_password(client, make_account, invite):
    make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    client.login(username="daivon_frazier", password=PASSWORD)
    page = client.get("/portal/password/change/")
    assert page.status_code == 200 and b'nav aria-label="Portal sections"' in page.content
    wrong = client.post("/portal/password/change/", {"old_password": "nope", "new_password1": "x" * 20,
                                                     "new_password2": "x" * 20 + "y"})
    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    assert User.objects.get(username="daivon_frazier").check_password(PASSWORD)
    ok = client.post("/portal/password/change/", {"old_password": PASSWORD, "new_password1": "fresh passphrase 11",
                                                  "new_password2": "fresh passphrase 11"})
    assert ok["Location"] == "/portal/password/changed/"
    assert User.objects.get(username="daivon_frazier").check_password("fresh passphrase 11")
    assert AuditEvent.objects.filter(action="PORTAL_PASSWORD_SET", reason="change").count() == 1


def test_a_closed_accounts_investor_still_signs_in_and_sees_it_is_closed(client, make_account, invite):
    account = make_account("daivon_frazier")
    _set_password(client, invite("daivon_frazier"))
    account_deactivate(actor="test", account=account, reason="offboarded")
    assert client.login(username="daivon_frazier", password=PASSWORD)
    page = client.get("/portal/")
    assert page.status_code == 200 and b"This account is closed" in page.content


def test_time_zone_is_an_iana_name(make_account):
    account = make_account("daivon_frazier")
    with pytest.raises(ApplicationError, match="not a time zone"):
        account_update(actor="test", account=account, changes={"time_zone": "Mars/Olympus"})
    account = account_update(actor="test", account=account, changes={"time_zone": "Europe/Berlin"})
    assert account.time_zone == "Europe/Berlin"


def test_the_master_is_never_invited(make_account):
    master = make_account("the_master", master=True)
    with pytest.raises(ApplicationError, match="MASTER"):
        portal_invitation_send(actor="test", account=master)


def test_the_demo_prints_a_portal_login_that_works(client, make_account, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("ensure_portal_login", stdout=io.StringIO())  # no demo investor yet: nothing happens
    make_account("tania_gilbert", full_name="Tania Gilbert")
    out = io.StringIO()
    call_command("ensure_portal_login", stdout=out)
    username, password = re.search(r"Portal login \(Tania Gilbert\): (\S+) / (\S+) at ", out.getvalue()).groups()
    again = io.StringIO()
    call_command("ensure_portal_login", stdout=again)
    assert f"{username} / {password} " in again.getvalue()  # stable across runs of make run
    assert client.login(username=username, password=password)
    assert b"Tania Gilbert" in client.get("/portal/").content
