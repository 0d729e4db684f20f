"""Copy engine records (DESIGN.md §5): the engine mode, per-account copy settings, master signals,
one CopyOrder per (signal, follower) and the fills reconciliation brings back."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from core.assets import symbol_base, symbol_quote
from core.fields import AmountField, CurrencyField, PriceField, QuantityField


class EngineMode(models.Model):
    """The global engine mode: one row (id=1). Changed only by `engine_mode_set`."""

    class Mode(models.TextChoices):
        OFF = "OFF", "Off"
        OBSERVE = "OBSERVE", "Observe"
        LIVE = "LIVE", "Live"

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.OBSERVE, editable=False)
    reason = models.TextField(blank=True, editable=False)
    changed_by = models.CharField(max_length=150, blank=True, editable=False)
    changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "engine mode"
        verbose_name_plural = "engine mode"
        permissions = [("change_engine_mode", "Can change the copy engine mode and copy switches")]
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="copytrading_engine_mode_singleton"),
            models.CheckConstraint(condition=models.Q(mode__in=["OFF", "OBSERVE", "LIVE"]),
                                   name="copytrading_engine_mode_valid"),
        ]

    def __str__(self) -> str:
        return f"Copy engine: {self.mode}"

    @classmethod
    def current(cls) -> EngineMode:
        obj, _ = cls.objects.get_or_create(id=1)
        return obj


class CopySettings(models.Model):
    """Per-account copy switch and sizing. An account without a row copies with the defaults."""

    class SizingMode(models.TextChoices):
        PROPORTIONAL = "proportional", "Proportional to equity"
        MULTIPLIER = "multiplier", "Fixed multiplier of the master quantity"
        FIXED_NOTIONAL = "fixed_notional", "Fixed notional per entry"

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="copy_settings")
    copy_enabled = models.BooleanField(default=True)
    sizing_mode = models.CharField(max_length=16, choices=SizingMode.choices, default=SizingMode.PROPORTIONAL)
    multiplier = AmountField(default=Decimal("1"), help_text="proportional: scales the equity ratio; "
                             "multiplier: q = q_master x multiplier")
    fixed_notional = AmountField(null=True, blank=True, help_text="USD per entry in fixed_notional mode")
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "copy settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(multiplier__gt=0), name="copytrading_multiplier_positive"),
            models.CheckConstraint(
                condition=models.Q(fixed_notional__isnull=True) | models.Q(fixed_notional__gt=0),
                name="copytrading_fixed_notional_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(sizing_mode="fixed_notional") | models.Q(fixed_notional__isnull=False),
                name="copytrading_fixed_notional_needs_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Copy settings of {self.account.user_id}"

    def snapshot(self) -> dict:
        return {"copy_enabled": self.copy_enabled, "sizing_mode": self.sizing_mode,
                "multiplier": self.multiplier, "fixed_notional": self.fixed_notional}


class MasterSignal(models.Model):
    """One trade of the master, stored once per (source, source_id)."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        POLL = "poll", "Master-fill poll"
        MANUAL = "manual", "Manual (staff)"
        STOP = "stop", "Engine stop (not a master trade)"
        OFFBOARD = "offboard", "Offboarding close (not a master trade)"

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class OrderType(models.TextChoices):
        MARKET = "market", "Market"
        LIMIT = "limit", "Limit"

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        IGNORED = "IGNORED", "Ignored (engine off)"
        OBSERVED = "OBSERVED", "Observed"
        EXECUTING = "EXECUTING", "Executing"
        COMPLETED = "COMPLETED", "Completed"
        EXPIRED = "EXPIRED", "Expired (too old or in the future: never copied)"

    source = models.CharField(max_length=8, choices=Source.choices)
    source_id = models.CharField(max_length=128)
    venue = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Side.choices)
    amount = QuantityField()
    price = PriceField(help_text="master's fill price, in the quote asset")
    order_type = models.CharField(max_length=8, choices=OrderType.choices, default=OrderType.MARKET)
    master_order_id = models.CharField(max_length=128, blank=True)
    executed_at = models.DateTimeField()
    exit_fraction = AmountField(null=True, blank=True,
                                help_text="sells: fraction of the master position closed (1 = full exit)")
    exit_fraction_source = models.CharField(max_length=16, blank=True, help_text="sender or computed")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    raw_payload = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=8, choices=EngineMode.Mode.choices, help_text="engine mode when planned")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    status_reason = models.CharField(max_length=255, blank=True, help_text="why the signal was not copied")
    master_equity_usd = AmountField(null=True, blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="copytrading_signal_source_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="copytrading_signal_amount_positive"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="copytrading_signal_price_positive"),
            models.CheckConstraint(
                condition=models.Q(exit_fraction__isnull=True)
                | models.Q(exit_fraction__gt=0, exit_fraction__lte=1),
                name="copytrading_signal_exit_fraction_range",
            ),
        ]
        indexes = [models.Index(fields=["venue", "master_order_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.amount} {self.symbol} on {self.venue} ({self.source}:{self.source_id})"

    @property
    def is_exit(self) -> bool:
        # Spot only (leverage 1): a master sell reduces a long position.
        return self.side == self.Side.SELL

    @property
    def base_asset(self) -> str:
        return symbol_base(self.symbol)

    @property
    def quote_asset(self) -> str:
        return symbol_quote(self.symbol)


class SkipReason(models.TextChoices):
    """Why a follower's copy was not sent. A closed list: every skip has exactly one of these."""

    COPY_DISABLED = "copy_disabled", "Copy switched off for the account"
    NO_CREDENTIAL = "no_credential", "No active credential"
    NO_BALANCE = "no_balance", "No good balance snapshot"
    STALE_BALANCE = "stale_balance", "Balance snapshot too old"
    MASTER_BALANCE_UNAVAILABLE = "master_balance_unavailable", "Master equity unknown (proportional sizing)"
    BELOW_MIN_BALANCE = "below_min_balance", "Equity below the minimum balance to copy"
    INSTRUMENT_NOT_ALLOWED = "instrument_not_allowed", "Instrument not in the allowed list"
    INSTRUMENT_BLOCKED = "instrument_blocked", "Instrument in the account's blocked list"
    LEVERAGE_NOT_ALLOWED = "leverage_not_allowed", "Needs leverage the profile does not allow"
    MARKET_UNAVAILABLE = "market_unavailable", "Market not listed or inactive on the follower's venue"
    DAILY_LOSS_LIMIT = "daily_loss_limit", "Daily loss limit reached"
    MAX_CONCURRENT_POSITIONS = "max_concurrent_positions", "Too many open positions"
    MAX_POSITION_NOTIONAL = "max_position_notional", "Position notional limit reached"
    MAX_POSITION_PCT = "max_position_pct", "Position % of equity limit reached"
    MAX_EXPOSURE = "max_exposure", "No exposure left within the leverage limit"
    PRICE_MOVED = "price_moved", "Price moved beyond the allowed slippage"
    BELOW_EXCHANGE_MINIMUM = "below_exchange_minimum", "Below the venue's minimum amount or cost"
    NO_POSITION = "no_position", "Nothing held to reduce"
    PRICE_UNAVAILABLE = "price_unavailable", "No price from the follower's venue"


class CopyOrder(models.Model):
    """The plan and outcome of copying one signal to one follower."""

    class Status(models.TextChoices):
        PLANNED = "PLANNED", "Planned"
        SUBMITTING = "SUBMITTING", "Submitting"
        OPEN = "OPEN", "Open at the venue"
        FILLED = "FILLED", "Filled"
        PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled (final)"
        CANCELED = "CANCELED", "Canceled"
        REJECTED = "REJECTED", "Rejected by the venue"
        FAILED = "FAILED", "Failed"
        SKIPPED = "SKIPPED", "Skipped"
        OBSERVED = "OBSERVED", "Observed (not sent)"

    TERMINAL = ("FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "FAILED", "SKIPPED", "OBSERVED")

    class StopMode(models.TextChoices):
        NONE = "", "No stop"
        VENUE = "venue", "Stop order at the venue"
        ENGINE = "engine", "Enforced by the engine"

    signal = models.ForeignKey(MasterSignal, on_delete=models.PROTECT, related_name="copy_orders")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="copy_orders")
    credential_id = models.BigIntegerField(null=True, blank=True, help_text="brokers.BrokerCredential id")
    venue = models.CharField(max_length=32, blank=True)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=MasterSignal.Side.choices)
    order_type = models.CharField(max_length=8, default="market", help_text="market, or ioc at the guard price")
    is_exit = models.BooleanField(default=False)
    quantity = QuantityField(default=Decimal("0"), help_text="planned quantity, base asset")
    notional = AmountField(default=Decimal("0"), help_text="planned notional in the quote asset")
    quote_currency = CurrencyField(default="USD")
    reference_price = PriceField(null=True, blank=True, help_text="follower venue price at planning")
    guard_price = PriceField(null=True, blank=True, help_text="worst acceptable price (IOC limit)")
    client_order_id = models.CharField(max_length=36, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True)
    reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True)
    detail = models.TextField(blank=True, help_text="numbers behind a skip, or the venue's message")
    stop_mode = models.CharField(max_length=8, choices=StopMode.choices, blank=True, default="")
    stop_price = PriceField(null=True, blank=True)
    stop_state = models.CharField(max_length=10, blank=True, default="",
                                  help_text="engine stops: armed once the entry fills, triggered, or cleared by "
                                            "a full exit")
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    venue_order_id = models.CharField(max_length=128, blank=True)
    filled_quantity = QuantityField(null=True, blank=True)
    average_price = PriceField(null=True, blank=True)
    cost = AmountField(null=True, blank=True)
    fee = AmountField(null=True, blank=True)
    fee_asset = CurrencyField(blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_latency_ms = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="signal received -> order acknowledged")
    fills_synced = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["signal_id", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["signal", "account"], name="copytrading_one_copy_per_signal_account"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="copytrading_quantity_non_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=["PLANNED", "SUBMITTING", "OPEN", "FILLED", "PARTIALLY_FILLED",
                                               "CANCELED", "REJECTED", "FAILED", "SKIPPED", "OBSERVED"]),
                name="copytrading_copy_order_status_valid",
            ),
            # A skip always says why.
            models.CheckConstraint(condition=~models.Q(status="SKIPPED") | ~models.Q(reason=""),
                                   name="copytrading_skip_has_reason"),
        ]
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.quantity} {self.symbol} -> {self.account_id} [{self.status}]"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class CopyFill(models.Model):
    """One fill of a copy order at the venue, stored by reconciliation. The ledger reads these."""

    copy_order = models.ForeignKey(CopyOrder, on_delete=models.PROTECT, related_name="fills")
    trade_id = models.CharField(max_length=128)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=MasterSignal.Side.choices)
    amount = QuantityField()
    price = PriceField()
    cost = AmountField(help_text="quote asset")
    fee = AmountField(null=True, blank=True)
    fee_asset = CurrencyField(blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["copy_order", "trade_id"], name="copytrading_fill_unique_per_order"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="copytrading_fill_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.trade_id}: {self.side} {self.amount} {self.symbol} @ {self.price}"


class MasterFillCursor(models.Model):
    """How far master-fill polling has read, per master credential."""

    credential_id = models.BigIntegerField(unique=True)
    last_occurred_at = models.DateTimeField(null=True, blank=True)
    last_trade_ids = models.JSONField(default=list, blank=True, help_text="trade ids seen at last_occurred_at")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cursor of credential {self.credential_id} at {self.last_occurred_at}"


class MissedTrade(CopyOrder):
    """Admin view of copies that did not reach an account (skipped, rejected, failed)."""

    class Meta:
        proxy = True
        ordering = ["-created_at"]
        verbose_name = "missed trade"
