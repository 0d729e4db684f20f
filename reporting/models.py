"""Ledger, prices, daily NAV, stored reports and investor fees (DESIGN.md §4.4, §7, §8).

The ledger is append-only: an entry is never updated or deleted; a mistake is corrected by a new
`adjustment` entry. Derived data (DailyNav) can be recomputed from the ledger at any time."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from core.errors import ApplicationError
from core.fields import AmountField, CurrencyField, PriceField, QuantityField

# Investor fees (FeeCharge) are owed to the operator, not paid to an exchange: they are booked at this
# book-only venue, which no venue balance holds (reconcile_books does not compare it).
INVESTOR_FEE_VENUE = "nija"


class AppendOnlyQuerySet(models.QuerySet):
    append_only_message = "rows are append-only"

    def update(self, **kwargs):  # noqa: ARG002
        raise ApplicationError(self.append_only_message, code="append_only")

    def delete(self):
        raise ApplicationError(self.append_only_message, code="append_only")


class LedgerEntryQuerySet(AppendOnlyQuerySet):
    append_only_message = "ledger entries are append-only"


class TaxYearCloseQuerySet(AppendOnlyQuerySet):
    append_only_message = "a closed tax year is final"


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TRADE = "trade", "Trade"
        FEE = "fee", "Fee"
        TRANSFER = "transfer", "Transfer"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Source(models.TextChoices):
        COPY_FILL = "copy_fill", "Copy-order fill"
        VENUE = "venue", "Venue history"
        MANUAL = "manual", "Manual staff entry"
        IMPORT = "import", "CSV import"
        SYSTEM = "system", "System"
        FEE_CHARGE = "fee_charge", "Investor fee charge"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="ledger_entries")
    venue = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    asset = CurrencyField()
    amount = QuantityField(help_text="Signed: positive comes in, negative goes out (a sell is negative).")
    counter_asset = CurrencyField(blank=True, default="")
    counter_amount = QuantityField(null=True, blank=True, help_text="Trades: signed quote amount (gross of fee).")
    price = PriceField(null=True, blank=True, help_text="Trades: counter asset per unit of asset.")
    side = models.CharField(max_length=4, blank=True, default="")
    fee_asset = CurrencyField(blank=True, default="")
    fee_amount = QuantityField(null=True, blank=True)
    external_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    note = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "occurred_at"], name="ledger_account_time")]
        constraints = [
            models.UniqueConstraint(fields=["account", "venue", "external_id"], name="ledger_external_id_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["deposit", "withdrawal", "trade", "fee", "transfer", "adjustment"]),
                name="ledger_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_amount__isnull=True) | models.Q(fee_amount__gte=0),
                name="ledger_fee_non_negative",
            ),
            models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_amount_non_zero"),
            models.CheckConstraint(
                condition=~models.Q(kind="deposit") | models.Q(amount__gt=0), name="ledger_deposit_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["withdrawal", "fee"]) | models.Q(amount__lt=0),
                name="ledger_outflow_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="trade") | models.Q(counter_amount__isnull=False, side__in=["buy", "sell"]),
                name="ledger_trade_has_counter",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind} {self.amount} {self.asset} ({self.external_id})"

    def save(self, *args, **kwargs):
        # Append-only: the only write allowed is the first insert.
        if not self._state.adding:
            raise ApplicationError("ledger entries are append-only", code="append_only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ApplicationError("ledger entries are append-only", code="append_only")


class PricePoint(models.Model):
    """Price of one asset in a quote (USD) at a moment. NAV for a day uses the last point at or
    before the day's end."""

    class Source(models.TextChoices):
        VENUE = "venue", "Venue ticker"
        LEDGER = "ledger", "Ledger trade"
        MANUAL = "manual", "Manual"
        DEMO = "demo", "Demo"

    asset = CurrencyField()
    quote = CurrencyField(default="USD")
    price = PriceField()
    observed_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)

    class Meta:
        ordering = ["asset", "observed_at"]
        indexes = [models.Index(fields=["asset", "quote", "observed_at"], name="price_asset_time")]
        constraints = [
            models.UniqueConstraint(fields=["asset", "quote", "observed_at", "source"], name="price_point_unique"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.asset}/{self.quote} {self.price} @ {self.observed_at:%Y-%m-%d %H:%M}"


class DailyNav(models.Model):
    """Derived from the ledger and prices; recomputed whenever the ledger grows."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="daily_navs")
    day = models.DateField()
    nav_usd = AmountField()
    units = QuantityField()
    unit_nav = PriceField(null=True, blank=True)
    net_flow_usd = AmountField(default=Decimal("0"))
    cash_usd = AmountField(default=Decimal("0"))
    invested_usd = AmountField(default=Decimal("0"), help_text="Value of non-cash holdings (exposure).")
    missing_prices = models.JSONField(default=list, blank=True, help_text="Held assets with no known price.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "day"]
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="daily_nav_unique")]
        # The book's sums per day (BookDailyNav) are recomputed from the rows of the changed days.
        indexes = [models.Index(fields=["day"], name="daily_nav_day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} NAV {self.nav_usd}"


class BookDailyNav(models.Model):
    """The whole book's NAV on one day: the sum over accounts of that day's DailyNav and how many
    accounts it covers. Kept by reporting.services.book_nav_days_refresh in the transaction that
    changes DailyNav, so it always equals that sum; a day no account has is absent."""

    day = models.DateField(unique=True)
    nav_usd = AmountField()
    accounts = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"book {self.day} NAV {self.nav_usd} ({self.accounts} accounts)"


class Report(models.Model):
    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"
        FEE_STATEMENT = "fee_statement", "Fee statement"
        FINAL = "final", "Final report (inception to exit)"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="reports")
    period = models.CharField(max_length=16, choices=Period.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    data = models.JSONField()
    html = models.TextField()
    text = models.TextField()
    generated_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "account"]
        constraints = [
            models.UniqueConstraint(fields=["account", "period", "period_start"], name="report_unique_period"),
        ]

    def __str__(self) -> str:
        return f"{self.get_period_display()} report {self.account_id} {self.period_start}..{self.period_end}"


class FeeSchedule(models.Model):
    """Rates are fractions: 0.20 = 20 % performance fee, 0.02 = 2 % a year management fee."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="fee_schedule")
    performance_fee_rate = AmountField(default=Decimal("0"))
    management_fee_rate = AmountField(default=Decimal("0"), help_text="Annual; accrued daily as rate/365 of NAV.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(performance_fee_rate__gte=0, performance_fee_rate__lt=1), name="fee_perf_rate_range"
            ),
            models.CheckConstraint(
                condition=models.Q(management_fee_rate__gte=0, management_fee_rate__lt=1), name="fee_mgmt_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Fees of {self.account_id}: perf {self.performance_fee_rate}, mgmt {self.management_fee_rate}"


class FeeCharge(models.Model):
    """A management-fee accrual for one day, or a performance-fee crystallization on one day."""

    class Kind(models.TextChoices):
        MANAGEMENT = "management", "Management fee"
        PERFORMANCE = "performance", "Performance fee"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="fee_charges")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    day = models.DateField()
    basis_usd = AmountField(help_text="Management: NAV of the day. Performance: gain above the high-water mark.")
    rate = AmountField()
    amount_usd = AmountField()
    hwm_before = AmountField(null=True, blank=True)
    hwm_after = AmountField(null=True, blank=True)
    trigger = models.CharField(max_length=16, blank=True, default="", help_text="schedule or withdrawal")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "day", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "day"], name="fee_charge_unique_day"),
            models.CheckConstraint(condition=models.Q(amount_usd__gte=0), name="fee_charge_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} fee {self.account_id} {self.day}: {self.amount_usd} USD"


class ReconciliationBreak(models.Model):
    """The ledger and a venue disagree on how much of an asset an account holds (issue 10 §2).

    One row per (account, venue, asset) while the disagreement lasts: a daily run that finds it again
    updates the figures and `last_seen_at`; a run that finds the books agreeing again resolves it. A
    later disagreement is a new break."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        EXPLAINED = "explained", "Explained"
        RESOLVED = "resolved", "Resolved"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="reconciliation_breaks")
    venue = models.CharField(max_length=64)
    asset = CurrencyField()
    ledger_quantity = QuantityField(help_text="What the ledger implies the venue holds.")
    venue_quantity = QuantityField(help_text="Total in the venue's latest good balance snapshot.")
    difference = QuantityField(help_text="venue − ledger, in the asset.")
    difference_usd = AmountField(null=True, blank=True, help_text="USD at the snapshot's time; empty when unpriced.")
    snapshot_at = models.DateTimeField(help_text="When the venue figure was fetched.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField(blank=True, default="", help_text="Why it is explained or resolved.")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "account", "venue", "asset"]
        constraints = [
            # While a break lasts there is exactly one row for it: finding it again is the same break.
            models.UniqueConstraint(fields=["account", "venue", "asset"], condition=~models.Q(status="resolved"),
                                    name="reconciliation_break_one_current"),
            models.CheckConstraint(condition=models.Q(status__in=["open", "explained", "resolved"]),
                                   name="reconciliation_break_status_valid"),
            models.CheckConstraint(condition=~models.Q(status="resolved") | models.Q(resolved_at__isnull=False),
                                   name="reconciliation_break_resolved_has_time"),
        ]

    def __str__(self) -> str:
        return (f"{self.account_id} {self.venue} {self.asset}: "
                f"venue {self.venue_quantity} vs ledger {self.ledger_quantity}")


class TaxYearClose(models.Model):
    """A tax year as filed (issue 10 §1.4): the account's tax report for one year and lot method, stored
    when staff close the year (`tax_year_close`). Later ledger entries or prices never alter it: the tax
    report of a closed year shows these figures, and what a recomputation would change as a warning.
    Final: never updated or deleted."""

    class Method(models.TextChoices):
        FIFO = "fifo", "FIFO"
        LIFO = "lifo", "LIFO"
        HIFO = "hifo", "HIFO"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="tax_year_closes")
    year = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=4, choices=Method.choices)
    report = models.JSONField(help_text="The tax report as filed: disposals, totals, prices used (decimals as text).")
    closed_at = models.DateTimeField()
    closed_by = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")

    objects = TaxYearCloseQuerySet.as_manager()

    class Meta:
        ordering = ["account", "-year", "method"]
        constraints = [
            models.UniqueConstraint(fields=["account", "year", "method"], name="tax_year_close_unique"),
            models.CheckConstraint(condition=models.Q(method__in=["fifo", "lifo", "hifo"]),
                                   name="tax_year_close_method_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} tax year {self.year} ({self.method.upper()}) closed {self.closed_at:%Y-%m-%d}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ApplicationError(TaxYearCloseQuerySet.append_only_message, code="append_only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ApplicationError(TaxYearCloseQuerySet.append_only_message, code="append_only")
