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
