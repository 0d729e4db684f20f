"""Writes of the brokers app: credentials (encrypted, verified, permission-checked, audited) and
balance audits."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from accounts.choices import AccountStatus
from compliance.services import audit_event_record, notification_queue
from core.actors import Actor
from core.assets import USD_CODES, USD_STABLECOINS
from core.decimals import format_money, money_round, to_jsonable
from core.errors import ApplicationError

from . import crypto
from .clients.base import AssetBalance, BrokerError, PermissionReport
from .clients.locks import credential_lock
from .clients.registry import async_client_for, async_clients_close, client_build
from .models import AccountBalanceTotal, Alert, BalanceSnapshot, BrokerCredential
from .selectors import account_totals_latest_ok, credentials_stale

if TYPE_CHECKING:
    from accounts.models import Account

logger = logging.getLogger("nija.brokers")

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NON_CCXT_VENUES = {"paper", "alpaca"}


def venue_validate(venue: str) -> str:
    venue = (venue or "").strip().lower()
    if venue in NON_CCXT_VENUES:
        return venue
    import ccxt

    if venue not in ccxt.exchanges:
        raise ApplicationError(f"unknown venue '{venue}': use paper, alpaca, or a ccxt exchange id (e.g. kraken, okx)")
    return venue


def _hint(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else ""


# What a PAPER key may do: trade its simulated account, never withdraw (no venue to ask).
PAPER_PERMISSIONS = PermissionReport(can_trade=True, can_withdraw=False, detail={"venue": "paper"})


def _verify(*, venue: str, api_key: str, api_secret: str, passphrase: str, paper: bool,
            credential_id: int | None) -> PermissionReport:
    """Fetch balances (proves the key works) and ask the venue what the key may do."""
    client = client_build(venue=venue, api_key=api_key, api_secret=api_secret, passphrase=passphrase, paper=paper,
                          credential_id=credential_id)
    try:
        if credential_id is not None:
            with credential_lock(credential_id):
                client.fetch_balances()
                return client.check_permissions()
        client.fetch_balances()
        return client.check_permissions()
    except BrokerError as exc:
        raise ApplicationError(
            f"the key was refused by {venue} ({type(exc).__name__}): {exc.venue_message}", code="verification_failed"
        ) from None
    finally:
        close = getattr(client, "close", None)
        if close:
            close()


@dataclass
class CredentialPlan:
    """A key checked by credential_check and not yet stored: what credential_store writes. The
    secrets are in memory for one call (or one admin request) only and never in its repr."""

    account: Account
    venue: str
    label: str
    paper: bool
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    permissions: dict
    verified_at: dt.datetime | None
    allow_withdraw_permission: bool
    reason: str
    existing_id: int | None
    key_fingerprint: str = ""


def _key_owner_refuse(*, fingerprint: str, existing_id: int | None, for_update: bool = False) -> None:
    """One API key, one credential: refuse a key already stored for another credential (another
    account, or another label of this one), naming the account and never the key."""
    others = BrokerCredential.objects.filter(key_fingerprint=fingerprint).exclude(pk=existing_id)
    if for_update:
        others = others.select_for_update()
    other = others.select_related("account").order_by("pk").first()
    if other is not None:
        raise ApplicationError(
            f"this API key is already registered for account {other.account.user_id} "
            f"({other.venue}/{other.label}, credential {other.pk}); one key belongs to one account: "
            "create a separate key for this one",
            code="duplicate_key",
        )


def credential_check(
    *, account: Account, venue: str, api_key: str, api_secret: str, passphrase: str = "",
    label: str = "default", paper: bool = False, verify: bool = True, allow_withdraw_permission: bool = False,
    reason: str = "",
) -> CredentialPlan:
    """Everything credential_add checks before it writes: the input, the key (balances fetched
    when `verify`) and its permissions (a key that can withdraw is refused unless explicitly
    allowed with a reason). Writes nothing; raises ApplicationError with what is wrong."""
    venue = venue_validate(venue)
    label = (label or "default").strip()
    api_key, api_secret, passphrase = (api_key or "").strip(), (api_secret or "").strip(), (passphrase or "").strip()
    reason = (reason or "").strip()
    errors = []
    if not LABEL_RE.match(label):
        errors.append("label: letters, digits, '_', '.', '-' (at most 64)")
    if not api_key or not api_secret:
        errors.append("API key and secret are both required")
    if allow_withdraw_permission and not reason:
        errors.append("a reason is required to accept a key that can withdraw")
    if errors:
        raise ApplicationError("; ".join(errors))
    if venue == "paper":
        paper = True
    crypto.credential_keys()  # fail before any network call when no key is configured
    existing = BrokerCredential.objects.filter(account=account, venue=venue, label=label).first()
    fingerprint = crypto.key_fingerprint(venue=venue, api_key=api_key)
    if venue != "paper":  # PAPER ignores its key: the simulated account is the credential itself
        _key_owner_refuse(fingerprint=fingerprint, existing_id=existing.pk if existing else None)

    permissions: dict = {"checked": False}
    verified_at = None
    if verify and not (venue == "paper" and existing is None):
        report = _verify(venue=venue, api_key=api_key, api_secret=api_secret, passphrase=passphrase, paper=paper,
                         credential_id=existing.pk if venue == "paper" and existing else None)
        permissions = {"checked": True, "can_trade": report.can_trade, "can_withdraw": report.can_withdraw,
                       "detail": report.detail}
        verified_at = timezone.now()
        if report.can_withdraw and not allow_withdraw_permission:
            raise ApplicationError(
                f"this {venue} key can WITHDRAW funds; NIJA only accepts trade-only keys. Create a key without "
                "withdrawal permission, or accept this one with --allow-withdraw-permission --reason TEXT",
                code="withdraw_permission",
            )
    elif venue == "paper":
        permissions = {"checked": True, "can_trade": PAPER_PERMISSIONS.can_trade,
                       "can_withdraw": PAPER_PERMISSIONS.can_withdraw, "detail": dict(PAPER_PERMISSIONS.detail)}
        verified_at = timezone.now()
    if allow_withdraw_permission:
        permissions["withdraw_accepted"] = True
    return CredentialPlan(account=account, venue=venue, label=label, paper=paper, api_key=api_key,
                          api_secret=api_secret, passphrase=passphrase, permissions=permissions,
                          verified_at=verified_at, allow_withdraw_permission=allow_withdraw_permission, reason=reason,
                          existing_id=existing.pk if existing else None, key_fingerprint=fingerprint)


def credential_store(*, actor: Actor, plan: CredentialPlan) -> BrokerCredential:
    """Write a checked key (new, or replacing the account's key for that venue and label),
    encrypted, and audit it, in one transaction. A key stored without verification (--no-verify)
    is UNVERIFIED: no client uses it until the balance audit has verified it."""
    try:
        credential = _credential_write(actor=actor, plan=plan)
    except IntegrityError:
        # Another process stored this key (or this label) between our check and our insert, and the
        # database's constraint refused ours: say whose it is, as the check would have.
        if plan.venue != "paper":
            _key_owner_refuse(fingerprint=plan.key_fingerprint, existing_id=plan.existing_id)
        raise ApplicationError(f"{plan.account.user_id} {plan.venue}/{plan.label} was stored by another request "
                               "at the same moment: look at it and try again", code="conflict") from None
    return credential


def _credential_write(*, actor: Actor, plan: CredentialPlan) -> BrokerCredential:
    account, venue, label, permissions = plan.account, plan.venue, plan.label, plan.permissions
    with transaction.atomic():
        before = None
        existing = BrokerCredential.objects.select_for_update().filter(account=account, venue=venue,
                                                                        label=label).first()
        # Again under the row lock: the key may have been stored elsewhere since credential_check.
        if venue != "paper":
            _key_owner_refuse(fingerprint=plan.key_fingerprint, existing_id=existing.pk if existing else None,
                              for_update=True)
        if existing:
            credential = existing
            before = credential.snapshot()
        else:
            credential = BrokerCredential(account=account, venue=venue, label=label)
        credential.is_paper = plan.paper
        credential.api_key_encrypted = crypto.encrypt(plan.api_key)
        credential.api_secret_encrypted = crypto.encrypt(plan.api_secret)
        credential.passphrase_encrypted = crypto.encrypt(plan.passphrase)
        credential.hint = _hint(plan.api_key)
        credential.key_fingerprint = plan.key_fingerprint
        credential.status = (BrokerCredential.Status.ACTIVE if permissions.get("checked")
                             else BrokerCredential.Status.UNVERIFIED)
        credential.permissions = permissions
        credential.last_verified_at = plan.verified_at
        credential.save()
        account_balance_totals_refresh(account_ids=[account.pk])
        action = "CREDENTIAL_REPLACE" if existing else "CREDENTIAL_ADD"
        if plan.allow_withdraw_permission and permissions.get("can_withdraw"):
            action += "_WITHDRAW_CAPABLE"
        audit_event_record(
            actor=actor, action=action, target_type="broker_credential",
            target_id=f"{account.user_id}:{venue}:{label}", reason=plan.reason, before=before,
            after=credential.snapshot(),
        )
    logger.info("%s: %s on %s/%s (key ****%s)", action, account.user_id, venue, label, credential.hint)
    return credential


def credential_add(
    *, actor: Actor, account: Account, venue: str, api_key: str, api_secret: str, passphrase: str = "",
    label: str = "default", paper: bool = False, verify: bool = True, allow_withdraw_permission: bool = False,
    reason: str = "",
) -> BrokerCredential:
    """Store (or replace) an account's key for a venue, encrypted. The key is verified first by
    fetching balances; a key that can withdraw is refused unless explicitly allowed with a reason."""
    plan = credential_check(account=account, venue=venue, api_key=api_key, api_secret=api_secret,
                            passphrase=passphrase, label=label, paper=paper, verify=verify,
                            allow_withdraw_permission=allow_withdraw_permission, reason=reason)
    return credential_store(actor=actor, plan=plan)


def credential_status_set(
    *, actor: Actor, credential: BrokerCredential, status: str, reason: str = ""
) -> BrokerCredential:
    if status not in BrokerCredential.Status.values:
        raise ApplicationError(f"status must be one of {', '.join(BrokerCredential.Status.values)}")
    with transaction.atomic():
        credential = BrokerCredential.objects.select_for_update().select_related("account").get(pk=credential.pk)
        if status == BrokerCredential.Status.ACTIVE and not credential.permissions.get("checked"):
            # Never verified: enabling it makes it wait for the balance audit's verification.
            status = BrokerCredential.Status.UNVERIFIED
        if credential.status == status:
            return credential
        if credential.secrets_erased_at is not None:
            raise ApplicationError(f"the secrets of {credential} were erased after its retention period; "
                                   "add a new key instead", code="invalid_transition")
        before = credential.snapshot()
        credential.status = status
        # Archived: never used again; the encrypted secrets stay for the retention period.
        credential.archived_at = timezone.now() if status == BrokerCredential.Status.ARCHIVED else None
        try:
            with transaction.atomic():
                credential.save(update_fields=["status", "archived_at", "updated_at"])
        except IntegrityError:
            # The database keeps one credential in use per key: the same key is in use elsewhere.
            _key_owner_refuse(fingerprint=credential.key_fingerprint, existing_id=credential.pk)
            raise
        account_balance_totals_refresh(account_ids=[credential.account_id])
        audit_event_record(
            actor=actor, action=f"CREDENTIAL_{status.upper()}", target_type="broker_credential",
            target_id=f"{credential.account.user_id}:{credential.venue}:{credential.label}", reason=reason,
            before=before, after=credential.snapshot(),
        )
    return credential


def credentials_archive(*, actor: Actor, account: Account, reason: str) -> list[BrokerCredential]:
    """Offboarding: every credential of the account archived (disabled for any use, audited)."""
    archived = []
    for credential in BrokerCredential.objects.filter(account=account).exclude(
            status=BrokerCredential.Status.ARCHIVED).order_by("pk"):
        archived.append(credential_status_set(actor=actor, credential=credential,
                                              status=BrokerCredential.Status.ARCHIVED, reason=reason))
    return archived


def credentials_archived_erase(*, actor: Actor = "system:retention", now: dt.datetime | None = None,
                               limit: int = 500) -> int:
    """Erase the encrypted secrets of credentials archived longer than NIJA_CREDENTIAL_RETENTION_DAYS.
    The row (venue, label, hint) and its audit trail stay."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.NIJA_CREDENTIAL_RETENTION_DAYS)
    erased = 0
    ids = list(BrokerCredential.objects.filter(
        status=BrokerCredential.Status.ARCHIVED, archived_at__lt=cutoff, secrets_erased_at__isnull=True,
    ).order_by("pk").values_list("pk", flat=True)[:limit])
    for pk in ids:
        with transaction.atomic():
            credential = BrokerCredential.objects.select_for_update().select_related("account").get(pk=pk)
            if credential.secrets_erased_at is not None or credential.status != BrokerCredential.Status.ARCHIVED:
                continue
            before = credential.snapshot()
            credential.api_key_encrypted = credential.api_secret_encrypted = credential.passphrase_encrypted = ""
            credential.secrets_erased_at = now
            credential.save(update_fields=["api_key_encrypted", "api_secret_encrypted", "passphrase_encrypted",
                                           "secrets_erased_at", "updated_at"])
            account_balance_totals_refresh(account_ids=[credential.account_id])
            audit_event_record(
                actor=actor, action="CREDENTIAL_SECRETS_ERASE", target_type="broker_credential",
                target_id=f"{credential.account.user_id}:{credential.venue}:{credential.label}",
                reason=f"archived {credential.archived_at:%Y-%m-%d}, retention "
                       f"{settings.NIJA_CREDENTIAL_RETENTION_DAYS} days",
                before=before, after=credential.snapshot(),
            )
            erased += 1
    return erased


def credential_keys_rotate(*, actor: Actor) -> int:
    """Re-encrypt every credential under the newest key. Returns how many rows were rewritten."""
    count = 0
    with transaction.atomic():
        for credential in BrokerCredential.objects.select_for_update().order_by("pk"):
            credential.api_key_encrypted = crypto.rotate(credential.api_key_encrypted)
            credential.api_secret_encrypted = crypto.rotate(credential.api_secret_encrypted)
            credential.passphrase_encrypted = crypto.rotate(credential.passphrase_encrypted)
            # The fingerprint key derives from the newest key, so fingerprints follow the rotation.
            credential.key_fingerprint = crypto.key_fingerprint(
                venue=credential.venue, api_key=crypto.decrypt(credential.api_key_encrypted))
            credential.save(update_fields=["api_key_encrypted", "api_secret_encrypted", "passphrase_encrypted",
                                           "key_fingerprint"])
            count += 1
        audit_event_record(
            actor=actor, action="CREDENTIAL_KEYS_ROTATE", target_type="broker_credential", target_id="*",
            after={"re_encrypted": count, "keys_configured": len(crypto.credential_keys())},
        )
    return count


def credential_verify(*, actor: Actor, credential: BrokerCredential) -> str:
    """Verify a key stored UNVERIFIED (--no-verify): fetch balances and check its permissions, as
    credential_add would have. Returns '' when it is now ACTIVE, else why it is not: a key the
    venue refuses stays UNVERIFIED (tried again next audit); a key that can withdraw, not accepted
    with a reason when it was added, is DISABLED. Every outcome but a failed call is audited."""
    if credential.venue == "paper":
        # Nothing to ask a venue: the simulated account is the credential (as credential_check says).
        report = PAPER_PERMISSIONS
    else:
        secrets = crypto.credential_secrets(credential)
        try:
            with credential_lock(credential.pk):
                report = _verify(venue=credential.venue, api_key=secrets.api_key, api_secret=secrets.api_secret,
                                 passphrase=secrets.passphrase, paper=credential.is_paper, credential_id=None)
        except ApplicationError as exc:
            return f"key not verified yet: {exc.message}"
    permissions = {"checked": True, "can_trade": report.can_trade, "can_withdraw": report.can_withdraw,
                   "detail": report.detail}
    accepted = bool(credential.permissions.get("withdraw_accepted"))
    if accepted:
        permissions["withdraw_accepted"] = True
    refused = report.can_withdraw and not accepted
    with transaction.atomic():
        credential = BrokerCredential.objects.select_for_update().select_related("account").get(pk=credential.pk)
        if credential.status != BrokerCredential.Status.UNVERIFIED:
            return ""  # replaced, verified or disabled by someone else meanwhile
        before = credential.snapshot()
        credential.permissions = permissions
        credential.last_verified_at = timezone.now()
        credential.status = BrokerCredential.Status.DISABLED if refused else BrokerCredential.Status.ACTIVE
        credential.save(update_fields=["permissions", "last_verified_at", "status", "updated_at"])
        account_balance_totals_refresh(account_ids=[credential.account_id])
        audit_event_record(
            actor=actor, action="CREDENTIAL_VERIFY_REFUSED" if refused else "CREDENTIAL_VERIFY",
            target_type="broker_credential",
            target_id=f"{credential.account.user_id}:{credential.venue}:{credential.label}",
            reason="the key can withdraw funds; NIJA only accepts trade-only keys" if refused else "",
            before=before, after=credential.snapshot(),
        )
    if refused:
        return "key refused: it can WITHDRAW funds; disabled (add a trade-only key)"
    return ""


# --- stored balance summary -------------------------------------------------------------------
# Snapshot rows that count: an active or unverified key's latest fetch and latest good fetch (the
# same rows brokers.selectors reads row by row). An unverified key shows its failed verification.
_COUNTED_STATUSES = (BrokerCredential.Status.ACTIVE, BrokerCredential.Status.UNVERIFIED)
_GOOD = Q(is_latest_ok=True)
_FAILED = Q(is_latest=True, status=BalanceSnapshot.Status.FAILED)
BALANCE_TOTALS_BATCH = 500


def _balance_summaries_compute(account_ids: list[int], *, snapshots=BalanceSnapshot,
                               credentials=BrokerCredential) -> dict[int, dict]:
    """account id -> the AccountBalanceTotal fields, from the snapshot rows in the database (three
    queries for the whole list): per venue, summed over its credentials' latest good rows; a venue
    where any credential's latest fetch failed is unavailable (its figure unknown, not a partial
    sum) with the errors and its last good figure. `total_usd` is None with no available venue.
    Amounts are exact decimal strings."""
    active = set(credentials.objects.filter(account_id__in=account_ids, status=BrokerCredential.Status.ACTIVE)
                 .values_list("account_id", flat=True))
    counted = snapshots.objects.filter(credential__status__in=_COUNTED_STATUSES, account_id__in=account_ids)
    errors: dict[tuple[int, str], list[str]] = defaultdict(list)
    for account_id, venue, error in counted.filter(_FAILED).order_by("credential_id").values_list(
            "account_id", "venue", "error"):
        if error:
            errors[account_id, venue].append(error)
    figures = (counted.filter(Q(is_latest=True) | _GOOD).order_by().values("account_id", "venue")
               .annotate(good=Count("id", filter=_GOOD), usd=Sum("usd_value", filter=_GOOD),
                         good_at=Min("fetched_at", filter=_GOOD), failed=Count("id", filter=_FAILED))
               .order_by("account_id", "venue").values_list("account_id", "venue", "good", "usd", "good_at", "failed"))
    found = {pk: {"total_usd": None, "venues": {}, "unavailable": [], "has_active_key": pk in active}
             for pk in account_ids}
    for account_id, venue, good, usd, good_at, failed in figures:
        summary = found[account_id]
        usd = usd or Decimal(0)
        if failed:
            summary["unavailable"].append({
                "venue": venue, "error": "; ".join(errors[account_id, venue]),
                "last_good": f"{usd:f}" if good else None,
                "last_good_at": good_at.isoformat() if good else None})
        else:
            summary["venues"][venue] = f"{usd:f}"
            summary["total_usd"] = (summary["total_usd"] or Decimal(0)) + usd
    return found


def _balance_summaries_store(account_ids: list[int], *, snapshots=BalanceSnapshot, credentials=BrokerCredential,
                             totals=AccountBalanceTotal) -> None:
    """Recompute and store these accounts' summaries (call inside a transaction). Their rows are
    locked first, in account order, so two writers of one account (an audit and a key's status
    change, each holding a different credential's lock) take turns and the later one reads what the
    earlier committed. The models are parameters so the data migration runs this same code."""
    totals.objects.bulk_create([totals(account_id=pk) for pk in account_ids], ignore_conflicts=True)
    list(totals.objects.select_for_update().filter(account_id__in=account_ids).order_by("account_id")
         .values_list("account_id", flat=True))
    now = timezone.now()
    summaries = _balance_summaries_compute(account_ids, snapshots=snapshots, credentials=credentials)
    totals.objects.bulk_create(
        [totals(account_id=pk, updated_at=now, **fields) for pk, fields in summaries.items()],
        update_conflicts=True, unique_fields=["account"],
        update_fields=["total_usd", "venues", "unavailable", "has_active_key", "updated_at"])


def account_balance_totals_refresh(*, account_ids: Iterable[int], snapshots=BalanceSnapshot,
                                   credentials=BrokerCredential, totals=AccountBalanceTotal) -> int:
    """THE way the stored balance summaries (AccountBalanceTotal) change: recompute these accounts'
    from their snapshot rows, in batches, in one transaction (the caller's, when inside one).
    Called by the balance audit for the accounts it wrote and wherever an account's set of counted
    credentials changes. Returns how many accounts were refreshed."""
    ids = sorted(set(account_ids))
    with transaction.atomic():
        for start in range(0, len(ids), BALANCE_TOTALS_BATCH):
            _balance_summaries_store(ids[start:start + BALANCE_TOTALS_BATCH], snapshots=snapshots,
                                     credentials=credentials, totals=totals)
    return len(ids)


# --- alerts ---------------------------------------------------------------------------------
def alert_raise(*, account: Account, kind: str, message: str, details: dict | None = None) -> tuple[Alert, bool]:
    """Open an alert, or refresh the one already open for this account and kind (deduplicated).
    Returns (alert, created)."""
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(account=account, kind=kind, status=Alert.Status.OPEN).first()
        if alert:
            alert.message, alert.details = message, to_jsonable(details or {})
            alert.occurrences += 1
            alert.last_seen_at = now
            alert.save(update_fields=["message", "details", "occurrences", "last_seen_at"])
            return alert, False
        try:
            with transaction.atomic():
                alert = Alert.objects.create(account=account, kind=kind, message=message,
                                             details=to_jsonable(details or {}), last_seen_at=now)
        except IntegrityError:  # another process opened it a moment ago: refresh that one
            return alert_raise(account=account, kind=kind, message=message, details=details)
    logger.warning("alert %s for %s: %s", kind, account.user_id, message)
    return alert, True


def alert_resolve(*, actor: Actor, alert: Alert, reason: str = "") -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("account").get(pk=alert.pk)
        if alert.status == Alert.Status.RESOLVED:
            return alert
        alert.status, alert.resolved_at = Alert.Status.RESOLVED, timezone.now()
        alert.save(update_fields=["status", "resolved_at"])
        audit_event_record(actor=actor, action="ALERT_RESOLVE", target_type="alert", target_id=str(alert.pk),
                           reason=reason, after={"kind": alert.kind, "account": alert.account.user_id})
    return alert


def _alert_auto_resolve(*, account: Account, kind: str) -> None:
    """The condition cleared (balance back above the threshold): close the open alert."""
    Alert.objects.filter(account=account, kind=kind, status=Alert.Status.OPEN).update(
        status=Alert.Status.RESOLVED, resolved_at=timezone.now()
    )


# --- balance audit --------------------------------------------------------------------------


@dataclass
class CredentialFetch:
    credential_id: int
    account_id: int
    venue: str
    fetched_at: dt.datetime
    balances: dict[str, AssetBalance] = field(default_factory=dict)
    usd_prices: dict[str, Decimal | None] = field(default_factory=dict)
    error: str = ""


@dataclass
class BalanceAuditSummary:
    started_at: dt.datetime
    finished_at: dt.datetime
    accounts: int
    credentials: int
    ok: int
    failed: int
    snapshots: int
    alerts_opened: int
    total_usd: Decimal
    failures: list[dict] = field(default_factory=list)

    @property
    def elapsed_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def as_dict(self) -> dict:
        return {
            "started_at": self.started_at, "finished_at": self.finished_at,
            "elapsed_seconds": round(self.elapsed_seconds, 3), "accounts": self.accounts,
            "credentials": self.credentials, "ok": self.ok, "failed": self.failed, "snapshots": self.snapshots,
            "alerts_opened": self.alerts_opened, "total_usd": money_round(self.total_usd), "failures": self.failures,
        }


def _error_text(exc: BaseException) -> str:
    """What we store and show for a failed fetch: our class and the venue's message. Mapped broker
    errors never carry our secrets; anything else is reduced to its type so no request detail leaks."""
    if isinstance(exc, BrokerError):
        return f"{type(exc).__name__.removeprefix('Broker')}: {exc.venue_message}"[:500]
    if isinstance(exc, TimeoutError):
        return "Timeout: no answer from the venue"
    return f"{type(exc).__name__}: unexpected error (see the worker log)"


class _PriceBook:
    """USD prices shared by all credentials of one venue during one audit: each symbol is asked
    once, through whichever credential needs it first."""

    def __init__(self) -> None:
        self.tasks: dict[tuple, asyncio.Task] = {}

    async def markets(self, client, key: tuple) -> dict:
        return await self._once((*key, "markets"), client.fetch_markets)

    async def price(self, client, key: tuple, symbol: str) -> Decimal:
        return await self._once((*key, symbol), lambda: client.fetch_price(symbol))

    async def _once(self, key: tuple, factory):
        task = self.tasks.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = self.tasks[key] = asyncio.ensure_future(factory())
        return await asyncio.shield(task)

    async def usd_price(self, client, key: tuple, asset: str) -> Decimal | None:
        if asset in USD_CODES:
            return Decimal("1")
        markets = await self.markets(client, key)
        if f"{asset}/USD" in markets:
            return await self.price(client, key, f"{asset}/USD")
        if asset in USD_STABLECOINS:
            return Decimal("1")  # no direct market: a stablecoin counts at par
        for stable in ("USDT", "USDC"):
            if f"{asset}/{stable}" in markets:
                stable_usd = await self.usd_price(client, key, stable)
                return None if stable_usd is None else await self.price(client, key, f"{asset}/{stable}") * stable_usd
        return None


async def _fetch_all(credentials: list[BrokerCredential], concurrency: int, timeout: float,
                     progress: Callable[[int, int], None] | None) -> list[CredentialFetch]:
    semaphore = asyncio.Semaphore(max(1, concurrency))
    book = _PriceBook()
    done = 0

    async def one(credential: BrokerCredential) -> CredentialFetch:
        nonlocal done
        async with semaphore:
            result = CredentialFetch(credential_id=credential.pk, account_id=credential.account_id,
                                     venue=credential.venue, fetched_at=timezone.now())
            try:
                client = async_client_for(credential)
                balances = await asyncio.wait_for(client.fetch_balances(), timeout)
                result.fetched_at = timezone.now()
                result.balances = {a: b for a, b in balances.items() if b.total}
                key = (credential.venue, credential.is_paper)
                for asset in result.balances:
                    try:
                        result.usd_prices[asset] = await asyncio.wait_for(book.usd_price(client, key, asset), timeout)
                    except (BrokerError, TimeoutError):
                        result.usd_prices[asset] = None  # stored without a USD value, never as 0
            except Exception as exc:  # noqa: BLE001 - any failure is recorded, never shown as a zero balance
                result.error = _error_text(exc)
                if not isinstance(exc, BrokerError | TimeoutError):
                    logger.exception("balance fetch of credential %s failed", credential.pk)
            done += 1
            if progress:
                progress(done, len(credentials))
            return result

    try:
        return await asyncio.gather(*(one(c) for c in credentials))
    finally:
        await async_clients_close()


def _snapshot_rows(fetch: CredentialFetch) -> list[BalanceSnapshot]:
    common = {"account_id": fetch.account_id, "credential_id": fetch.credential_id, "venue": fetch.venue,
              "fetched_at": fetch.fetched_at, "is_latest": True}
    if fetch.error:
        return [BalanceSnapshot(status=BalanceSnapshot.Status.FAILED, error=fetch.error, **common)]
    rows = []
    for asset, balance in sorted(fetch.balances.items()):
        price = fetch.usd_prices.get(asset)
        rows.append(BalanceSnapshot(
            asset=asset, free=balance.free, used=balance.used, total=balance.total,
            usd_value=None if price is None else balance.total * price,
            error="" if price is not None else f"no USD price for {asset}", is_latest_ok=True, **common,
        ))
    if not rows:  # an empty account is a good reading of zero, distinct from a failure
        rows.append(BalanceSnapshot(asset="USD", free=Decimal(0), used=Decimal(0), total=Decimal(0),
                                    usd_value=Decimal(0), is_latest_ok=True, **common))
    return rows


def _alerts_check(account: Account, previous: Decimal | None, current: Decimal, open_kinds: set[str],
                  observed_at: dt.datetime | None = None) -> int:
    """Open BALANCE_LOW / BALANCE_DROP alerts; each alert opened also tells the account holder, once
    per alert (the alert is the message's period: while it stays open nothing is sent again)."""
    opened = 0
    risk = getattr(account, "risk_profile", None)
    threshold = risk.low_balance_alert if risk else Decimal("50")
    read_at = f"{(observed_at or timezone.now()).astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if current < threshold:
        with transaction.atomic():
            alert, created = alert_raise(
                account=account, kind=Alert.Kind.BALANCE_LOW,
                message=f"balance {format_money(current)} is below {format_money(threshold)}",
                details={"total_usd": current, "threshold_usd": threshold},
            )
            if created:
                notification_queue(kind="balance_low", account=account, period=f"alert-{alert.pk}",
                                   actor="system:balance-audit",
                                   context={"balance": format_money(current), "threshold": format_money(threshold),
                                            "observed_at": read_at})
        opened += created
    elif Alert.Kind.BALANCE_LOW in open_kinds:
        _alert_auto_resolve(account=account, kind=Alert.Kind.BALANCE_LOW)
    drop_pct = Decimal(str(settings.NIJA_BALANCE_DROP_PCT))
    if previous and previous > 0:
        fall = (previous - current) / previous * 100
        if fall >= drop_pct:
            with transaction.atomic():
                alert, created = alert_raise(
                    account=account, kind=Alert.Kind.BALANCE_DROP,
                    message=f"balance fell {fall.quantize(Decimal('0.1'))}% from {format_money(previous)} "
                            f"to {format_money(current)}",
                    details={"previous_usd": previous, "current_usd": current, "fall_pct": fall,
                             "threshold_pct": drop_pct},
                )
                if created:
                    notification_queue(kind="balance_drop", account=account, period=f"alert-{alert.pk}",
                                       actor="system:balance-audit",
                                       context={"previous": format_money(previous), "balance": format_money(current),
                                                "drop_pct": fall.quantize(Decimal("0.1")), "threshold_pct": drop_pct,
                                                "observed_at": read_at})
            opened += created
    return opened


def balance_audit_run(
    *, account_ids: list[int] | None = None, concurrency: int | None = None,
    progress: Callable[[int, int], None] | None = None, timeout: float = 30.0,
) -> BalanceAuditSummary:
    """Fetch every active credential's balances concurrently (bounded; one call at a time per
    credential through its lock), value them in USD with the venue's prices, store snapshots,
    and raise BALANCE_LOW / BALANCE_DROP alerts. A failed fetch is stored as failed with its error.
    UNVERIFIED keys are verified first (credential_verify); one that fails is stored as a failed
    fetch with the reason and is not used."""
    started = timezone.now()

    def covered(status: str):
        qs = (BrokerCredential.objects.filter(status=status).exclude(account__status=AccountStatus.INACTIVE)
              .select_related("account", "account__risk_profile").order_by("pk"))
        return qs if account_ids is None else qs.filter(account_id__in=list(account_ids))

    unverified = list(covered(BrokerCredential.Status.UNVERIFIED))
    not_verified = []
    for credential in unverified:
        problem = credential_verify(actor="balance_audit", credential=credential)
        if problem:
            not_verified.append(CredentialFetch(credential_id=credential.pk, account_id=credential.account_id,
                                                venue=credential.venue, fetched_at=timezone.now(), error=problem))
    credentials = list(covered(BrokerCredential.Status.ACTIVE))
    accounts = {c.account_id: c.account for c in [*credentials, *unverified]}
    previous = account_totals_latest_ok(account_ids=list(accounts))
    fetches = async_to_sync(_fetch_all)(
        credentials, concurrency or settings.NIJA_BALANCE_AUDIT_CONCURRENCY, timeout, progress
    ) + not_verified
    fetched_ids = [f.credential_id for f in fetches]

    with transaction.atomic():
        # Row locks in a fixed order: two audits writing at once serialize here, so each
        # credential ends with exactly one latest set.
        list(BrokerCredential.objects.select_for_update().filter(pk__in=fetched_ids).order_by("pk")
             .values_list("pk", flat=True))
        # An audit that finished after a newer one (beat and a command at once) keeps its rows as
        # history but does not take the "latest" flags from the newer reading.
        newest = dict(
            BalanceSnapshot.objects.filter(credential_id__in=fetched_ids, is_latest=True)
            .values_list("credential_id", "fetched_at")
        )
        current_fetches = [f for f in fetches if newest.get(f.credential_id) is None
                           or newest[f.credential_id] <= f.fetched_at]
        stale_ids = {f.credential_id for f in fetches} - {f.credential_id for f in current_fetches}
        rows = [row for fetch in fetches for row in _snapshot_rows(fetch)]
        for row in rows:
            if row.credential_id in stale_ids:
                row.is_latest = row.is_latest_ok = False
        ok_ids = [f.credential_id for f in current_fetches if not f.error]
        BalanceSnapshot.objects.filter(
            credential_id__in=[f.credential_id for f in current_fetches], is_latest=True
        ).update(is_latest=False)
        BalanceSnapshot.objects.filter(credential_id__in=ok_ids, is_latest_ok=True).update(is_latest_ok=False)
        BalanceSnapshot.objects.bulk_create(rows, batch_size=500)
        # The stored summaries of the accounts this audit's current readings changed, in the same
        # transaction (a stale audit's rows change no figure, so it leaves them alone).
        account_balance_totals_refresh(account_ids={f.account_id for f in current_fetches})

    # Alerts only for accounts whose every credential answered: a partial total is not a drop.
    failed_accounts = {f.account_id for f in fetches if f.error}
    current = account_totals_latest_ok(account_ids=[a for a in accounts if a not in failed_accounts])
    open_alerts: dict[int, set[str]] = {}
    for account_id, kind in Alert.objects.filter(account_id__in=list(current), status=Alert.Status.OPEN).values_list(
        "account_id", "kind"
    ):
        open_alerts.setdefault(account_id, set()).add(kind)
    alerts_opened = 0
    for account_id, total in current.items():
        alerts_opened += _alerts_check(accounts[account_id], previous.get(account_id), total,
                                       open_alerts.get(account_id, set()), observed_at=started)

    failures = [
        {"account": accounts[f.account_id].user_id, "venue": f.venue, "error": f.error} for f in fetches if f.error
    ]
    summary = BalanceAuditSummary(
        started_at=started, finished_at=timezone.now(), accounts=len(accounts), credentials=len(fetches),
        ok=sum(1 for f in fetches if not f.error), failed=len(failures), snapshots=len(rows),
        alerts_opened=alerts_opened,
        total_usd=sum(current.values(), Decimal(0)), failures=failures,
    )
    logger.info("balance audit: %s credentials, %s ok, %s failed in %.2fs", summary.credentials, summary.ok,
                summary.failed, summary.elapsed_seconds)
    return summary


def balances_fresh_ensure(*, account_ids: list[int] | None = None, max_age_seconds: int | None = None) -> bool:
    """Run an audit for the accounts whose latest fetch is older than the cache TTL
    (NIJA_BALANCE_CACHE_TTL). Returns whether an audit ran."""
    ttl = settings.NIJA_BALANCE_CACHE_TTL if max_age_seconds is None else max_age_seconds
    stale = credentials_stale(max_age_seconds=ttl, account_ids=account_ids)
    if not stale:
        return False
    balance_audit_run(account_ids=sorted({c.account_id for c in stale}))
    return True
