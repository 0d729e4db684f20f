"""Output shapes of the balances API. Amounts are USD strings rounded to the cent here, at the edge."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import ExactDecimalField, MoneyField

from ..models import Alert


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


@extend_schema_field(UserBalanceSerializer(many=True))
class UserBalanceListField(serializers.Field):
    """`UserBalanceSerializer(many=True)`'s output, built directly: the summary lists every user
    (10,000 and more), where a serializer's per-field work is most of the request."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, users: list[dict]) -> list[dict]:
        unavailable = UnavailableVenueSerializer(many=True)
        money = MoneyField.text
        return [{"user_id": u["user_id"], "total": None if u["total"] is None else money(u["total"]),
                 "brokers": {venue: money(usd) for venue, usd in u["brokers"].items()},
                 "unavailable": unavailable.to_representation(u["unavailable"]) if u["unavailable"] else []}
                for u in users]


class UsersSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    currency = serializers.CharField(help_text="currency of every amount: USD")
    user_count = serializers.IntegerField(help_text="users with at least one available venue")
    total_capital = MoneyField(help_text="sum of the users' available figures")
    average_balance = MoneyField(allow_null=True, help_text="total_capital / user_count; null with no user")
    master_total = MoneyField(allow_null=True, help_text="the MASTER account's total; null when unavailable")
    users = UserBalanceListField(help_text="highest total first; users with no figure last")


class BalanceFilterSerializer(serializers.Serializer):
    unavailable = serializers.BooleanField(required=False, allow_null=True, default=None,
                                           help_text="true: only accounts with a venue whose latest fetch failed")
    venue = serializers.CharField(required=False, max_length=64)
    q = serializers.CharField(required=False, max_length=100, help_text="search in user id, name and e-mail")


class VenueBalanceSerializer(serializers.Serializer):
    venue = serializers.CharField()
    available = serializers.BooleanField(help_text="false: the latest fetch failed; usd is null, never 0")
    usd = MoneyField(allow_null=True)
    fetched_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(help_text="why the latest fetch failed (empty when available)")
    last_good = MoneyField(allow_null=True)
    last_good_at = serializers.DateTimeField(allow_null=True)
    assets = serializers.DictField(child=ExactDecimalField(), help_text="asset -> quantity (latest good reading)")


class AccountBalanceSerializer(serializers.Serializer):
    user_id = serializers.CharField(source="account.user_id")
    full_name = serializers.CharField(source="account.full_name")
    kind = serializers.CharField(source="account.kind")
    status = serializers.CharField(source="account.status")
    total = serializers.SerializerMethodField(help_text="USD over the available venues; null when none is")
    partial = serializers.SerializerMethodField(help_text="true: the total leaves out unavailable venues")
    venues = serializers.SerializerMethodField()

    @extend_schema_field(MoneyField(allow_null=True))
    def get_total(self, entry) -> str | None:
        return MoneyField().to_representation(entry.total_usd) if entry.has_figures else None

    def get_partial(self, entry) -> bool:
        return bool(entry.unavailable) and entry.has_figures

    @extend_schema_field(VenueBalanceSerializer(many=True))
    def get_venues(self, entry) -> list:
        return VenueBalanceSerializer(list(entry.venues.values()), many=True).data


class AlertFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, required=False)
    user_id = serializers.CharField(required=False, max_length=63)


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.CharField(source="account.user_id")
    kind = serializers.ChoiceField(choices=Alert.Kind.choices)
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    message = serializers.CharField()
    details = serializers.DictField()
    occurrences = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
