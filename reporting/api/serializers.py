"""Query parameters and output of the staff reconciliation-breaks API."""

from __future__ import annotations

from rest_framework import serializers

from core.api import ExactDecimalField, MoneyField

from ..models import ReconciliationBreak


class ReconciliationBreakFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReconciliationBreak.Status.choices, required=False)
    venue = serializers.CharField(required=False, max_length=64)
    asset = serializers.CharField(required=False, max_length=16)
    user_id = serializers.CharField(required=False, max_length=63)


class ReconciliationBreakSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.CharField(source="account.user_id")
    venue = serializers.CharField()
    asset = serializers.CharField()
    ledger_quantity = ExactDecimalField(help_text="what the ledger implies the venue holds, in the asset")
    venue_quantity = ExactDecimalField(help_text="total in the venue's latest good snapshot, in the asset")
    difference = ExactDecimalField(help_text="venue - ledger, in the asset")
    difference_usd = MoneyField(allow_null=True, help_text="USD at the snapshot's time; null when unpriced")
    snapshot_at = serializers.DateTimeField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=ReconciliationBreak.Status.choices)
    reason = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)


# --- investor endpoints (/api/v1/accounts/<user_id|me>/...) ---------------------------------
# The views present their figures with core.presenters.present_json (amounts quantized to the
# currency's or asset's precision, as strings; times ISO 8601 UTC); these serializers give that
# output its documented type. A decimal is a string; null where the figure is undefined or unknown.
def _decimal(help_text: str = "", **kwargs) -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text=help_text or "a decimal as a string", **kwargs)


class TransactionSerializer(serializers.Serializer):
    date = serializers.DateTimeField()
    type = serializers.CharField(help_text="ledger kind: deposit, withdrawal, trade, fee, ...")
    pair = serializers.CharField(help_text="BASE/QUOTE for a trade, else the asset")
    side = serializers.CharField(allow_null=True)
    size = _decimal("quantity of `asset`")
    price = _decimal()
    fee = _decimal("in `fee_asset`")
    amount = _decimal("net change of `balance_asset` (fee included when paid in it)")
    balance_after = _decimal("balance of `balance_asset` after the row")
    note = serializers.CharField(allow_null=True)
    asset = serializers.CharField()
    balance_asset = serializers.CharField()
    fee_asset = serializers.CharField(allow_null=True)


class TransactionsSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    transactions = TransactionSerializer(many=True, help_text="oldest first")


class PositionSerializer(serializers.Serializer):
    asset = serializers.CharField()
    quantity = _decimal()
    avg_cost = _decimal("USD per unit")
    cost_basis = _decimal("USD")
    current_price = _decimal("USD; null when no price is known")
    price_at = serializers.DateTimeField(allow_null=True)
    market_value = _decimal("USD; null when no price is known")
    unrealized_pnl = _decimal("USD; null when no price is known")
    stop = _decimal("the stop price (copy engine's, else the risk profile's distance from cost)")
    opened_at = serializers.DateTimeField(allow_null=True)
    unpriced = serializers.BooleanField(help_text="a lot's cost is not known in USD: cost basis understated")


class ReportPositionSerializer(PositionSerializer):
    weight = _decimal("share of the period's closing NAV; null without a price")


class PositionsSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    currency = serializers.CharField()
    positions = PositionSerializer(many=True)


class NavPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    nav = _decimal("USD")
    unit_nav = _decimal()


class VenueEquitySerializer(serializers.Serializer):
    total_usd = _decimal("USD, latest good balance readings")
    fetched_at = serializers.DateTimeField()


class TradeBreakdownSerializer(serializers.Serializer):
    asset = serializers.CharField()
    count = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    breakeven = serializers.IntegerField()
    pnl = _decimal("USD")
    proceeds = _decimal("USD")


class TradeSummarySerializer(serializers.Serializer):
    asset = serializers.CharField()
    closed_at = serializers.DateTimeField()
    opened_at = serializers.DateTimeField(allow_null=True)
    quantity = _decimal()
    pnl = _decimal("USD")
    duration_seconds = _decimal("quantity-weighted holding time; null when no lot's acquisition is known")
    flagged = serializers.BooleanField()


class PerformanceSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    data_through = serializers.DateField(help_text="the last day with figures (a running period stops today)")
    currency = serializers.CharField()
    metrics = serializers.DictField(help_text="DESIGN.md §8 metrics of the period; an undefined one is null")
    day_pnl = _decimal("USD P&L of the last day; null without a NAV")
    nav_curve = NavPointSerializer(many=True)
    venue_equity = VenueEquitySerializer(allow_null=True)
    trade_breakdown = TradeBreakdownSerializer(many=True, required=False, help_text="weekly and monthly")
    best_trades = TradeSummarySerializer(many=True, required=False, help_text="weekly and monthly")
    worst_trades = TradeSummarySerializer(many=True, required=False, help_text="weekly and monthly")
    risk = serializers.DictField(required=False, help_text="weekly and monthly: drawdown, exposure, ...")
    positions = ReportPositionSerializer(many=True, required=False, help_text="monthly")


class ReportSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    generated_at = serializers.DateTimeField()


class ReportsSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    reports = ReportSummarySerializer(many=True, help_text="newest first, at most 200")


class ReportSerializer(ReportSummarySerializer):
    text = serializers.CharField()
    data = serializers.DictField(help_text="the report's figures as stored")


class TaxDisposalSerializer(serializers.Serializer):
    asset = serializers.CharField()
    quantity = _decimal()
    acquired = serializers.DateField(allow_null=True)
    disposed = serializers.DateField()
    proceeds = _decimal("USD")
    cost_basis = _decimal("USD")
    fees = _decimal("USD")
    gain = _decimal("USD")
    holding_days = serializers.IntegerField(allow_null=True)
    term = serializers.CharField()
    flag = serializers.CharField(allow_blank=True, help_text="`;`-separated keys of `flags`")
    unpriced = serializers.BooleanField()


class TaxTotalsSerializer(serializers.Serializer):
    proceeds = _decimal("USD")
    cost_basis = _decimal("USD")
    fees = _decimal("USD")
    gain = _decimal("USD")
    count = serializers.IntegerField()
    unpriced = serializers.IntegerField()


class TaxPriceSerializer(serializers.Serializer):
    asset = serializers.CharField()
    quote = serializers.CharField()
    price = _decimal()
    observed_at = serializers.DateTimeField()
    source = serializers.CharField(help_text="venue, manual, demo, or trade (this account's own trade against cash)")


class TaxYearClosedSerializer(serializers.Serializer):
    closed_at = serializers.DateTimeField()
    closed_by = serializers.CharField()
    reason = serializers.CharField()


class TaxReportSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    year = serializers.IntegerField()
    method = serializers.CharField()
    currency = serializers.CharField()
    disposals = TaxDisposalSerializer(many=True)
    totals_by_term = serializers.DictField(child=TaxTotalsSerializer(), help_text="by holding term")
    flagged = serializers.IntegerField()
    unpriced = serializers.IntegerField()
    prices = TaxPriceSerializer(many=True, help_text="every USD price the lots used, with its source and time")
    flags = serializers.DictField(child=serializers.CharField(), help_text="what each flag means")
    closed = TaxYearClosedSerializer(allow_null=True, help_text="the year's close (filed) for this method; null: open")
    differences = serializers.ListField(child=serializers.DictField(),
                                        help_text="closed year: what a recomputation today would change")
    warnings = serializers.ListField(child=serializers.CharField())


class ManagementFeesSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    total = _decimal("USD")
    avg_nav = _decimal("USD; null with no day charged")


class CrystallizationSerializer(serializers.Serializer):
    day = serializers.DateField()
    trigger = serializers.CharField()
    gain_above_hwm = _decimal("USD")
    amount = _decimal("USD")
    hwm_before = _decimal("USD")
    hwm_after = _decimal("USD")


class PerformanceFeesSerializer(serializers.Serializer):
    total = _decimal("USD")
    crystallizations = CrystallizationSerializer(many=True)


class FeeStatementSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    name = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    management_fee_rate = _decimal("annual rate; null without a fee schedule")
    performance_fee_rate = _decimal("rate of the gain above the high-water mark; null without a schedule")
    management = ManagementFeesSerializer()
    performance = PerformanceFeesSerializer()
    total = _decimal("USD")
