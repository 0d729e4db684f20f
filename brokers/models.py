"""Broker credentials (encrypted at rest), balance snapshots, balance alerts, and the PAPER
venue's own state (balances, prices, orders, fills, behaviour) so it survives across processes."""

from __future__ import annotations

from django.db import models

from core.fields import AmountField, CurrencyField, PriceField, QuantityField
from core.indexes import NullsLastIndex

from .choices import CredentialStatus


class BrokerCredential(models.Model):
    """One API key of one account at one venue. The key, secret and passphrase are MultiFernet
    tokens (brokers.crypto); only `hint` (last 4 characters of the key) is ever shown."""

    Status = CredentialStatus

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="credentials")
    venue = models.CharField(max_length=64, help_text="kraken, coinbase, okx, alpaca, paper, or any ccxt id")
    label = models.CharField(max_length=64, default="default")
    is_paper = models.BooleanField("paper/demo", default=False, help_text="Alpaca paper or OKX demo trading")
    api_key_encrypted = models.TextField(editable=False)
    api_secret_encrypted = models.TextField(editable=False)
    passphrase_encrypted = models.TextField(blank=True, editable=False)
    hint = models.CharField(max_length=8, editable=False, help_text="last 4 characters of the API key")
    # brokers.crypto.key_fingerprint(venue, api_key): finds the same key on another account without
    # decrypting every row; empty only for a row the migration could not decrypt.
    key_fingerprint = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, editable=False)
    last_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    permissions = models.JSONField(default=dict, blank=True, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False,
                                       help_text="archived (offboarding): secrets kept until the retention ends")
    secrets_erased_at = models.DateTimeField(null=True, blank=True, editable=False,
                                             help_text="secrets erased after the retention period")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account__user_id", "venue", "label"]
        constraints = [
            models.UniqueConstraint(fields=["account", "venue", "label"], name="brokers_credential_unique_label"),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "unverified", "disabled", "archived"]),
                name="brokers_credential_status_valid",
            ),
            # One API key, one credential in use, enforced by the database so two concurrent adds
            # cannot both pass the service's check (brokers.services._key_owner_refuse). PAPER ignores
            # its key; a disabled or archived row is out of use (how staff settle a duplicate that
            # predates the fingerprint: migration 0004 lists them).
            models.UniqueConstraint(
                fields=["key_fingerprint"], name="brokers_credential_key_in_use_once",
                condition=models.Q(status__in=["active", "unverified"]) & ~models.Q(key_fingerprint="")
                & ~models.Q(venue="paper"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account.user_id} {self.venue}/{self.label} (…{self.hint})"

    @property
    def masked_key(self) -> str:
        return f"****{self.hint}"

    def snapshot(self) -> dict:
        """What an audit event records: never a secret, only the hint."""
        return {
            "account": self.account.user_id, "venue": self.venue, "label": self.label, "is_paper": self.is_paper,
            "hint": self.hint, "status": self.status, "permissions": self.permissions,
            "archived_at": self.archived_at, "secrets_erased_at": self.secrets_erased_at,
        }


class BalanceSnapshot(models.Model):
    """One asset of one credential at one fetch, or one failed fetch (status failed, asset empty).
    Rows of one fetch share `fetched_at`. A failure is a row with its error, never a zero."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="balance_snapshots")
    credential = models.ForeignKey(
        BrokerCredential, null=True, blank=True, on_delete=models.SET_NULL, related_name="balance_snapshots"
    )
    venue = models.CharField(max_length=64)
    asset = CurrencyField(blank=True)
    free = QuantityField(null=True, blank=True)
    used = QuantityField(null=True, blank=True)
    total = QuantityField(null=True, blank=True)
    usd_value = AmountField(null=True, blank=True, help_text="USD; empty when no price was available")
    fetched_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    error = models.TextField(blank=True)
    # Flags kept by the audit's write (under the credential row locks) so readers never scan history:
    # rows of the credential's latest fetch, and rows of its latest successful fetch.
    is_latest = models.BooleanField(default=False, db_index=True, editable=False)
    is_latest_ok = models.BooleanField(default=False, db_index=True, editable=False)

    class Meta:
        ordering = ["-fetched_at", "account_id", "venue", "asset"]
        indexes = [models.Index(fields=["account", "credential", "status", "-fetched_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["ok", "failed"]), name="brokers_snapshot_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="ok") | models.Q(error__gt=""), name="brokers_snapshot_failure_has_error"
            ),
        ]

    def __str__(self) -> str:
        if self.status == self.Status.FAILED:
            return f"{self.account_id} {self.venue}: unavailable ({self.error})"
        return f"{self.account_id} {self.venue} {self.asset} {self.total}"


class AccountBalanceTotal(models.Model):
    """One account's balance summary, kept by brokers.services.account_balance_totals_refresh from
    its credentials' latest snapshot rows (the same rules as the row-by-row reading): the USD total
    over the available venues (NULL when none is available: ranked last, never as $0), each
    available venue's figure, and the unavailable venues with their error and last good figure.
    Amounts in the JSON are exact decimal strings; rounding happens at the edge."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, primary_key=True,
                                   related_name="balance_summary")
    total_usd = AmountField(null=True, blank=True, help_text="USD over the available venues; empty when none is")
    venues = models.JSONField(default=dict, blank=True, help_text="available venue -> USD (decimal string)")
    unavailable = models.JSONField(default=list, blank=True,
                                   help_text="[{venue, error, last_good, last_good_at}] of venues whose latest "
                                             "fetch failed")
    # Kept with the figures (both change only with the keys' statuses and the audit's readings):
    # the balance views list an account with an ACTIVE key (and not INACTIVE, read live).
    has_active_key = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The dashboard's ranking: highest total first, accounts with no figure last.
            NullsLastIndex(models.OrderBy(models.F("total_usd"), descending=True, nulls_last=True),
                           models.F("account"), name="brokers_total_rank"),
            # The few accounts with an unavailable venue (the dashboard lists them).
            models.Index(fields=["account"], condition=~models.Q(unavailable=[]), name="brokers_total_unavailable"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} total {self.total_usd if self.total_usd is not None else 'unavailable'}"


class Alert(models.Model):
    """An operational alert about an account. At most one OPEN alert per account and kind: a
    repeated condition updates the open alert instead of adding another."""

    class Kind(models.TextChoices):
        BALANCE_LOW = "BALANCE_LOW", "Balance below threshold"
        BALANCE_DROP = "BALANCE_DROP", "Balance dropped sharply"

    class Status(models.TextChoices):
        OPEN = "OPEN", "Open"
        RESOLVED = "RESOLVED", "Resolved"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"], condition=models.Q(status="OPEN"), name="brokers_alert_one_open_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id}: {self.message}"


# --- PAPER venue state ----------------------------------------------------------------------
class PaperBalance(models.Model):
    credential = models.ForeignKey(BrokerCredential, on_delete=models.CASCADE, related_name="paper_balances")
    asset = CurrencyField()
    free = QuantityField(default=0)
    used = QuantityField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "asset"], name="paper_balance_unique_asset"),
            models.CheckConstraint(condition=models.Q(free__gte=0, used__gte=0), name="paper_balance_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.credential_id} {self.asset} {self.free}/{self.used}"


class PaperPrice(models.Model):
    symbol = models.CharField(max_length=32, unique=True)
    price = PriceField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(price__gt=0), name="paper_price_positive")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.price}"


class PaperOrder(models.Model):
    credential = models.ForeignKey(BrokerCredential, on_delete=models.CASCADE, related_name="paper_orders")
    venue_order_id = models.CharField(max_length=64, unique=True)
    client_order_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=8)
    amount = QuantityField()
    limit_price = PriceField(null=True, blank=True)
    status = models.CharField(max_length=20)
    filled = QuantityField(default=0)
    average_price = PriceField(null=True, blank=True)
    cost = AmountField(null=True, blank=True)
    fee = AmountField(null=True, blank=True)
    fee_asset = CurrencyField(blank=True)
    reserved_asset = CurrencyField(blank=True)
    reserved = QuantityField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The venue-side dedup: a resend with the same client order id finds this row.
            models.UniqueConstraint(fields=["credential", "client_order_id"], name="paper_order_unique_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.venue_order_id} {self.side} {self.amount} {self.symbol} {self.status}"


class PaperTrade(models.Model):
    credential = models.ForeignKey(BrokerCredential, on_delete=models.CASCADE, related_name="paper_trades")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="trades")
    trade_id = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    amount = QuantityField()
    price = PriceField()
    cost = AmountField()
    fee = AmountField()
    fee_asset = CurrencyField()
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.trade_id} {self.side} {self.amount} {self.symbol} @ {self.price}"


class PaperBehaviour(models.Model):
    """Latency and injected faults of one PAPER credential (read on every call, so a test or a
    demo can change them while workers run)."""

    class Fault(models.TextChoices):
        NONE = "", "None"
        TIMEOUT_AFTER_ACCEPT = "timeout_after_accept", "Timeout after accepting the order"
        RATE_LIMITED = "rate_limited", "429 rate limited"
        SERVER_ERROR = "server_error", "5xx server error"
        INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
        AUTH_FAILURE = "auth_failure", "Authentication failure"

    credential = models.OneToOneField(BrokerCredential, on_delete=models.CASCADE, related_name="paper_behaviour")
    latency_ms = models.PositiveIntegerField(default=0)
    fault = models.CharField(max_length=32, choices=Fault.choices, blank=True, default="")
    fault_count = models.PositiveIntegerField(default=0)
    fault_operations = models.JSONField(default=list, blank=True, help_text="operations the fault hits; empty = any")

    def __str__(self) -> str:
        return f"paper behaviour of {self.credential_id}"
