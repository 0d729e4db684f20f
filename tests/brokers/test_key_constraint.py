"""Issue 11 §5, in the database: one API key is in use on one credential only (a partial unique
constraint on the keyed fingerprint), so two adds racing past the service's check cannot both be
stored; the loser gets the same clear refusal naming the other account."""

from __future__ import annotations

import threading
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from brokers import crypto, services
from brokers.models import BrokerCredential
from brokers.services import credential_add, credential_status_set
from compliance.models import AuditEvent
from core.errors import ApplicationError

KEY, SECRET = "okx-key-raced-41d2-QQ07", "okx-secret-raced-never-shown"
migration = import_module("brokers.migrations.0004_credential_key_in_use_once")


def _row(account, *, status: str = BrokerCredential.Status.ACTIVE, venue: str = "okx") -> BrokerCredential:
    """A row written past the service (as a racing process or old data would)."""
    return BrokerCredential.objects.create(
        account=account, venue=venue, label="default", api_key_encrypted=crypto.encrypt(KEY),
        api_secret_encrypted=crypto.encrypt(SECRET), hint=KEY[-4:], status=status,
        permissions={"checked": True}, key_fingerprint=crypto.key_fingerprint(venue=venue, api_key=KEY))


@pytest.mark.django_db
def test_the_database_refuses_a_second_credential_in_use_with_the_same_key(make_account):
    _row(make_account("nija_master", master=True))
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(make_account("daivon_frazier"))
    assert BrokerCredential.objects.count() == 1


@pytest.mark.django_db
def test_a_disabled_or_archived_duplicate_and_paper_keys_are_outside_the_constraint(make_account):
    _row(make_account("nija_master", master=True))
    _row(make_account("ann"), status=BrokerCredential.Status.DISABLED)
    _row(make_account("bob"), status=BrokerCredential.Status.ARCHIVED)
    _row(make_account("cy"), venue="paper")
    _row(make_account("dee"), venue="paper")
    assert BrokerCredential.objects.count() == 5


@pytest.mark.django_db
def test_switching_a_disabled_duplicate_back_on_is_refused_naming_the_account_in_use(make_account):
    in_use = _row(make_account("nija_master", master=True))
    twin = _row(make_account("daivon_frazier"), status=BrokerCredential.Status.DISABLED)
    events = AuditEvent.objects.count()
    with pytest.raises(ApplicationError, match=f"already registered for account nija_master .*credential {in_use.pk}"):
        credential_status_set(actor="test", credential=twin, status="active", reason="back on")
    twin.refresh_from_db()
    assert twin.status == BrokerCredential.Status.DISABLED and AuditEvent.objects.count() == events


def test_the_migration_lists_keys_in_use_twice_by_account_never_by_key():
    rows = [(1, "nija_master", "okx", "f1", "active"), (2, "daivon_frazier", "okx", "f1", "unverified"),
            (3, "ann", "okx", "f2", "active"), (4, "bob", "okx", "f2", "archived"),
            (5, "cy", "paper", "f3", "active"), (6, "dee", "paper", "f3", "active"), (7, "eve", "okx", "", "active"),
            (8, "fay", "okx", "", "active")]
    assert migration.keys_in_use_twice(rows) == [
        "okx: account nija_master (credential 1), account daivon_frazier (credential 2)"]


@pytest.mark.django_db
def test_the_migration_stops_with_one_line_while_a_duplicate_is_in_use(make_account, monkeypatch):
    _row(make_account("nija_master", master=True))
    migration.duplicates_refuse(apps, None)  # nothing in use twice: it goes ahead
    twin = _row(make_account("daivon_frazier"), status=BrokerCredential.Status.DISABLED)
    monkeypatch.setattr(migration, "IN_USE", ("active", "disabled"))  # as if the twin were in use
    with pytest.raises(CommandError) as stopped:
        migration.duplicates_refuse(apps, None)
    message = str(stopped.value)
    assert f"account daivon_frazier (credential {twin.pk})" in message and "disable or archive" in message
    assert KEY not in message and "\n" not in message


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_adds_of_one_key_store_it_once(postgres, make_account, monkeypatch):
    master, user = make_account("nija_master", master=True), make_account("daivon_frazier")
    both_checked = threading.Barrier(2, timeout=20)
    checked = services._key_owner_refuse

    def check_then_wait(**kwargs):
        checked(**kwargs)
        if kwargs.get("for_update"):  # the re-check inside credential_store's transaction passed...
            both_checked.wait()  # ...in both requests before either inserts: only the database can stop one

    monkeypatch.setattr(services, "_key_owner_refuse", check_then_wait)
    outcomes: dict[str, object] = {}

    def add(account) -> None:
        try:
            outcomes[account.user_id] = credential_add(actor="test", account=account, venue="okx", api_key=KEY,
                                                       api_secret=SECRET, verify=False)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each request got
            outcomes[account.user_id] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(account,)) for account in (master, user)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = [o for o in outcomes.values() if isinstance(o, BrokerCredential)]
    refused = [o for o in outcomes.values() if isinstance(o, ApplicationError)]
    assert len(stored) == 1 and len(refused) == 1, outcomes
    assert refused[0].code == "duplicate_key"
    assert f"already registered for account {stored[0].account.user_id}" in str(refused[0])
    assert KEY not in str(refused[0])
    assert BrokerCredential.objects.filter(venue="okx").count() == 1
    assert AuditEvent.objects.filter(action="CREDENTIAL_ADD").count() == 1
