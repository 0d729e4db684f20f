"""Shapes of the copy-trading API: the signal webhook (validation itself is
`copytrading.services.signal_fields_clean`, shared with submit_signal and polling) and the staff
lists of master signals, their copy orders and missed trades."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import DayField, ExactDecimalField, MoneyField

from ..models import CopyOrder, EngineMode, MasterSignal, SkipReason
from ..selectors import MISSED_STATUSES

# The patterns document what signal_fields_clean accepts, so clients and fuzzers can build valid signals.
DECIMAL = r"^([1-9][0-9]{0,11}(\.[0-9]{1,8})?|0\.[0-9]{0,7}[1-9])$"


class SignalInputSerializer(serializers.Serializer):
    source_id = serializers.RegexField(r"^[A-Za-z0-9_.:/-]{1,128}$",
                                       help_text="the sender's id; a replay is answered 200")
    venue = serializers.RegexField(r"^[a-z0-9_.-]{2,32}$", help_text="paper, kraken, coinbase, okx, alpaca, ...")
    symbol = serializers.RegexField(r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}(:[A-Z0-9]{1,15})?$",
                                    help_text="unified BASE/QUOTE, e.g. BTC/USD")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    amount = serializers.RegexField(DECIMAL, help_text="decimal string, positive, within the quantity precision")
    price = serializers.RegexField(DECIMAL, help_text="decimal string, the master's fill price")
    order_type = serializers.ChoiceField(choices=["market", "limit"], required=False, help_text="default market")
    master_order_id = serializers.CharField(required=False, allow_blank=True, max_length=128)
    executed_at = serializers.DateTimeField(help_text="with a time zone; from 2000 to now (+ the clock tolerance); "
                                                      "older than NIJA_SIGNAL_MAX_AGE_SECONDS is stored EXPIRED")
    exit_fraction = serializers.RegexField(r"^(0\.[0-9]{0,7}[1-9]|1(\.0{1,8})?)?$", required=False,
                                           help_text="sells only: fraction in (0, 1]")


class CopyOrderCountsSerializer(serializers.Serializer):
    planned = serializers.IntegerField()
    observed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    by_reason = serializers.DictField(child=serializers.IntegerField())


class SignalOutputSerializer(serializers.Serializer):
    signal_id = serializers.IntegerField()
    status = serializers.CharField()
    planning = serializers.CharField(help_text="queued | accepted, planning queued | done | not planned: expired")
    reason = serializers.CharField(allow_null=True, help_text="why an EXPIRED signal is not copied")
    copy_orders = CopyOrderCountsSerializer()



class SignalFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MasterSignal.Status.choices, required=False)
    mode = serializers.ChoiceField(choices=EngineMode.Mode.choices, required=False,
                                   help_text="engine mode when planned")
    symbol = serializers.CharField(required=False, max_length=32, help_text="e.g. BTC/USD")
    since = DayField(help_text="received on or after this UTC day")
    until = DayField(help_text="received on or before this UTC day")


class MasterSignalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=MasterSignal.Source.choices)
    source_id = serializers.CharField()
    venue = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=MasterSignal.Side.choices)
    amount = ExactDecimalField(help_text="base asset quantity")
    price = ExactDecimalField(help_text="the master's fill price, in the quote asset")
    order_type = serializers.CharField()
    master_order_id = serializers.CharField()
    executed_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    exit_fraction = ExactDecimalField()
    mode = serializers.CharField(help_text="engine mode when planned")
    status = serializers.ChoiceField(choices=MasterSignal.Status.choices)
    status_reason = serializers.CharField()
    planned_at = serializers.DateTimeField(allow_null=True)
    copy_orders = serializers.SerializerMethodField(help_text="copy orders by status")

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_copy_orders(self, signal) -> dict:
        return self.context["counts"].get(signal.pk, {})


class CopyOrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CopyOrder.Status.choices, required=False)
    reason = serializers.ChoiceField(choices=SkipReason.choices, required=False)
    user_id = serializers.CharField(required=False, max_length=63)


class MissedTradeFilterSerializer(CopyOrderFilterSerializer):
    status = serializers.ChoiceField(choices=[(s, s) for s in MISSED_STATUSES], required=False)
    since = DayField(help_text="planned on or after this UTC day")
    until = DayField(help_text="planned on or before this UTC day")


class CopyOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    signal_id = serializers.IntegerField()
    user_id = serializers.CharField(source="account.user_id")
    venue = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    is_exit = serializers.BooleanField()
    order_type = serializers.CharField()
    quantity = ExactDecimalField(help_text="planned quantity, base asset")
    notional = MoneyField(help_text="planned notional, in quote_currency")
    quote_currency = serializers.CharField()
    reference_price = ExactDecimalField()
    guard_price = ExactDecimalField()
    client_order_id = serializers.CharField()
    status = serializers.ChoiceField(choices=CopyOrder.Status.choices)
    reason = serializers.CharField(help_text="skip reason (a closed list), empty otherwise")
    detail = serializers.CharField()
    venue_order_id = serializers.CharField()
    filled_quantity = ExactDecimalField()
    average_price = ExactDecimalField()
    cost = MoneyField(allow_null=True, help_text="in quote_currency")
    fee = ExactDecimalField(help_text="in fee_asset")
    fee_asset = serializers.CharField()
    created_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
