"""Shapes of the signal webhook, for the OpenAPI schema. Validation itself is
`copytrading.services.signal_fields_clean`, shared with submit_signal and polling."""

from rest_framework import serializers


class SignalInputSerializer(serializers.Serializer):
    source_id = serializers.CharField(max_length=128)
    venue = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32, help_text="unified BASE/QUOTE, e.g. BTC/USD")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    amount = serializers.CharField(help_text="decimal string")
    price = serializers.CharField(help_text="decimal string, the master's fill price")
    order_type = serializers.ChoiceField(choices=["market", "limit"], required=False)
    master_order_id = serializers.CharField(required=False, max_length=128)
    executed_at = serializers.DateTimeField()
    exit_fraction = serializers.CharField(required=False, help_text="sells only: fraction in (0, 1]")


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

