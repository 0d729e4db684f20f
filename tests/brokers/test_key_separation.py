"""Issue 11 §5: one API key belongs to one account (a keyed fingerprint finds it without
decrypting any row, the refusal names the other account, never the key), and --no-verify keys
are UNVERIFIED until the balance audit has verified them, withdraw permission included."""

from __future__ import annotations

import hashlib
import io
from importlib import import_module

import ccxt
import ccxt.async_support as ccxt_async
import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from brokers import crypto
from brokers.clients.base import BrokerAuthenticationError
from brokers.clients.registry import client_for
from brokers.models import BalanceSnapshot, BrokerCredential
from brokers.services import balance_audit_run, credential_add, credential_keys_rotate, credential_status_set
from compliance.models import AuditEvent
from core.errors import ApplicationError

from .ccxt_replay import markets_load, recorded

KEY, SECRET, PASSPHRASE = "okx-key-shared-7e7e-ZZ01", "okx-secret-shared-never-shown", "okx-pass-1"
pytestmark = pytest.mark.django_db


def _add(account, **kwargs):
    return credential_add(actor="test", account=account, venue=kwargs.pop("venue", "okx"), api_key=KEY,
                          api_secret=SECRET, passphrase=PASSPHRASE, **kwargs)


def _row_counts() -> tuple[int, int]:
    return BrokerCredential.objects.count(), AuditEvent.objects.count()


def test_the_masters_key_is_refused_for_a_user_naming_the_master_and_not_the_key(make_account, okx_venue):
    master = make_account("nija_master", master=True)
    user = make_account("daivon_frazier")
    stored = _add(master)
    before = _row_counts()
    with pytest.raises(ApplicationError) as refused:
        _add(user)
    message = str(refused.value)
    assert refused.value.code == "duplicate_key"
    assert "nija_master" in message and f"credential {stored.pk}" in message
    assert KEY not in message and KEY[-4:] not in message and SECRET not in message
    assert _row_counts() == before


def test_the_same_key_under_a_second_label_of_one_account_is_refused(make_account, okx_venue):
    account = make_account("daivon_frazier")
    _add(account)
    with pytest.raises(ApplicationError, match="already registered for account daivon_frazier"):
        _add(account, label="second")


def test_replacing_an_accounts_own_key_with_itself_is_allowed(make_account, okx_venue):
    account = make_account("daivon_frazier")
    first = _add(account)
    again = _add(account)
    assert again.pk == first.pk and BrokerCredential.objects.count() == 1


def test_the_fingerprint_is_keyed_and_follows_a_key_rotation(make_account, okx_venue, settings):
    master, user = make_account("nija_master", master=True), make_account("daivon_frazier")
    stored = _add(master)
    assert len(stored.key_fingerprint) == 64
    assert stored.key_fingerprint != hashlib.sha256(KEY.encode()).hexdigest()  # not guessable without the keys
    old = stored.key_fingerprint
    settings.NIJA_CREDENTIAL_KEYS = [Fernet.generate_key().decode(), *settings.NIJA_CREDENTIAL_KEYS]
    credential_keys_rotate(actor="test")
    stored.refresh_from_db()
    assert stored.key_fingerprint != old
    assert stored.key_fingerprint == crypto.key_fingerprint(venue="okx", api_key=KEY)
    with pytest.raises(ApplicationError, match="already registered for account nija_master"):
        _add(user)


def test_the_command_says_which_account_has_the_key(make_account, okx_venue):
    _add(make_account("nija_master", master=True))
    make_account("daivon_frazier")
    with pytest.raises(CommandError, match="already registered for account nija_master") as refused:
        call_command("add_broker_credential", "daivon_frazier", "--venue", "okx",
                     stdin=io.StringIO(f"{KEY}\n{SECRET}\n{PASSPHRASE}\n"), stdout=io.StringIO())
    assert KEY not in str(refused.value)


def test_the_migration_reports_existing_duplicates_by_account_and_never_the_key(make_account, okx_venue, capsys):
    migration = import_module("brokers.migrations.0002_credential_fingerprint_unverified")
    master, user = make_account("nija_master", master=True), make_account("daivon_frazier")
    first = _add(master)
    # a duplicate stored before the fingerprint existed (as on today's databases); disabled, because
    # the database now refuses a second one in use (migration 0004, test_key_constraint.py)
    second = BrokerCredential.objects.create(
        account=user, venue="okx", label="default", api_key_encrypted=crypto.encrypt(KEY),
        api_secret_encrypted=crypto.encrypt(SECRET), hint=KEY[-4:], status=BrokerCredential.Status.DISABLED)
    BrokerCredential.objects.update(key_fingerprint="")
    capsys.readouterr()
    migration.fingerprints_fill_and_report_duplicates(apps, None)
    out = capsys.readouterr().out
    assert "DUPLICATE API KEY on okx" in out
    assert f"account nija_master (credential {first.pk})" in out
    assert f"account daivon_frazier (credential {second.pk})" in out
    assert KEY not in out and SECRET not in out
    assert set(BrokerCredential.objects.values_list("key_fingerprint", flat=True)) == {
        crypto.key_fingerprint(venue="okx", api_key=KEY)}


# --- --no-verify: UNVERIFIED until the balance audit verifies it ---------------------------------
@pytest.fixture
def okx_async(monkeypatch):
    balance = recorded("okx", "fetchBalance", "spot balance")["httpResponse"]
    ticker = recorded("okx", "fetchTicker", "public spot ticker")["httpResponse"]

    async def fetch(self, url, method="GET", headers=None, body=None):
        if "account/balance" in url:
            return balance
        if "market/ticker" in url:
            return ticker
        raise AssertionError(url)

    async def load_markets(self, reload=False, params=None):
        markets_load(self, "okx")
        return self.markets

    monkeypatch.setattr(ccxt_async.okx, "fetch", fetch)
    monkeypatch.setattr(ccxt_async.okx, "load_markets", load_markets)


def _add_unverified(user_id: str = "daivon_frazier") -> BrokerCredential:
    out = io.StringIO()
    call_command("add_broker_credential", user_id, "--venue", "okx", "--no-verify",
                 stdin=io.StringIO(f"{KEY}\n{SECRET}\n{PASSPHRASE}\n"), stdout=out)
    assert "status: UNVERIFIED" in out.getvalue()
    return BrokerCredential.objects.get(account__user_id=user_id)


def test_a_no_verify_key_is_unverified_and_no_client_will_use_it(make_account):
    make_account("daivon_frazier")
    credential = _add_unverified()
    assert credential.status == BrokerCredential.Status.UNVERIFIED and credential.permissions == {"checked": False}
    with pytest.raises(BrokerAuthenticationError, match="unverified"):
        client_for(credential)
    # switching it on by hand does not skip the verification either
    credential_status_set(actor="test", credential=credential, status="active", reason="try")
    credential.refresh_from_db()
    assert credential.status == BrokerCredential.Status.UNVERIFIED


def test_the_balance_audit_verifies_a_trade_only_key_before_its_first_use(make_account, okx_venue, okx_async):
    make_account("daivon_frazier")
    credential = _add_unverified()
    summary = balance_audit_run()
    credential.refresh_from_db()
    assert credential.status == BrokerCredential.Status.ACTIVE
    assert credential.permissions["checked"] is True and credential.permissions["can_withdraw"] is False
    assert AuditEvent.objects.filter(action="CREDENTIAL_VERIFY").count() == 1
    assert summary.ok == 1 and summary.failed == 0
    assert BalanceSnapshot.objects.filter(credential=credential, status="ok").exists()


def test_the_balance_audit_disables_an_unverified_key_that_can_withdraw(make_account, okx_venue, okx_async):
    make_account("daivon_frazier")
    credential = _add_unverified()
    okx_venue["perm"] = "read_only,trade,withdraw"
    summary = balance_audit_run()
    credential.refresh_from_db()
    assert credential.status == BrokerCredential.Status.DISABLED and credential.permissions["can_withdraw"] is True
    event = AuditEvent.objects.get(action="CREDENTIAL_VERIFY_REFUSED")
    assert "withdraw" in event.reason
    assert summary.failed == 1 and "can WITHDRAW" in summary.failures[0]["error"]
    failed = BalanceSnapshot.objects.get(credential=credential)
    assert failed.status == "failed" and "WITHDRAW" in failed.error  # shown unavailable, never $0


def test_a_key_the_venue_refuses_stays_unverified_and_is_shown_unavailable(make_account, monkeypatch):
    make_account("daivon_frazier")
    credential = _add_unverified()

    def refuse(self, url, method="GET", headers=None, body=None):
        error = {"code": "50113", "msg": "Invalid Sign"}
        self.handle_errors(401, "Unauthorized", url, method, {}, '{"code":"50113","msg":"Invalid Sign"}', error,
                           headers, body)

    monkeypatch.setattr(ccxt.okx, "fetch", refuse)
    summary = balance_audit_run()
    credential.refresh_from_db()
    assert credential.status == BrokerCredential.Status.UNVERIFIED
    assert summary.failed == 1 and summary.failures[0]["error"].startswith("key not verified yet")
    assert not AuditEvent.objects.filter(action__startswith="CREDENTIAL_VERIFY").exists()


def test_paper_keys_may_repeat_because_the_paper_venue_ignores_its_key(make_account):
    for user_id in ("ann", "bob"):
        credential_add(actor="test", account=make_account(user_id), venue="paper", api_key="paper-demo-key",
                       api_secret="paper-secret")
    assert BrokerCredential.objects.filter(venue="paper").count() == 2


def test_a_paper_key_set_back_to_unverified_is_verified_by_the_audit_not_crashed_on(make_account):
    # A PAPER client is keyed by the stored credential: verifying one must hand it the id.
    credential = credential_add(actor="test", account=make_account("daivon_frazier"), venue="paper",
                                api_key="paper-demo-key", api_secret="paper-secret")
    credential_status_set(actor="test", credential=credential, status="unverified", reason="re-check")
    credential.refresh_from_db()
    assert credential.status == BrokerCredential.Status.UNVERIFIED
    summary = balance_audit_run()
    credential.refresh_from_db()
    assert summary.failures == [] and summary.ok == 1
    assert credential.status == BrokerCredential.Status.ACTIVE
    assert AuditEvent.objects.filter(action="CREDENTIAL_VERIFY").count() == 1
