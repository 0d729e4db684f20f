"""Output shapes of the balances API. Amounts are USD strings rounded to the cent here, at the edge."""

from __future__ import annotations

from rest_framework import serializers

from core.api import MoneyField


class UnavailableVenueSerializer(serializers.Serializer):
    venue = serializers.CharField()
    error = serializers.CharField(help_text="why the latest fetch failed")
    last_good = MoneyField(allow_null=True, help_text="USD value of the last good reading (null: none yet)")
    last_good_at = serializers.DateTimeField(allow_null=True)


class UserBalanceSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    total = MoneyField(allow_null=True, help_text="USD over the available venues; null when none is available")
    brokers = serializers.DictField(child=MoneyField(), help_text="venue -> USD, available venues only")
    unavailable = UnavailableVenueSerializer(many=True, help_text="venues whose latest fetch failed: never counted")


class UsersSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    currency = serializers.CharField(help_text="currency of every amount: USD")
    user_count = serializers.IntegerField(help_text="users with at least one available venue")
    total_capital = MoneyField(help_text="sum of the users' available figures")
    average_balance = MoneyField(allow_null=True, help_text="total_capital / user_count; null with no user")
    master_total = MoneyField(allow_null=True, help_text="the MASTER account's total; null when unavailable")
    users = UserBalanceSerializer(many=True, help_text="highest total first; users with no figure last")
