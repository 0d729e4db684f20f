"""Input (query parameters) and output shapes of the staff accounts API."""

from __future__ import annotations

from rest_framework import serializers

from core.api import ExactDecimalField, MoneyField

from ..choices import AccountKind, AccountStatus, AccountTier, AccountType
from ..models import RiskProfile


class AccountFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=AccountKind.choices, required=False)
    account_type = serializers.ChoiceField(choices=AccountType.choices, required=False)
    tier = serializers.ChoiceField(choices=AccountTier.choices, required=False)
    trading_enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(required=False, max_length=100, help_text="search in user id, name and e-mail")


class RiskProfileSerializer(serializers.ModelSerializer):
    max_daily_loss_amount = MoneyField(allow_null=True, help_text="USD; null = no amount limit")
    max_daily_loss_pct = ExactDecimalField(help_text="% of start-of-day equity; null = none")
    max_position_notional = MoneyField(help_text="USD per position")
    max_position_pct = ExactDecimalField(help_text="% of equity per position")
    leverage_limit = ExactDecimalField(help_text="1 = spot only")
    stop_loss_pct = ExactDecimalField(help_text="stop distance % below entry; null = none")
    max_slippage_pct = ExactDecimalField()
    min_balance_to_copy = MoneyField(help_text="USD equity below which copies stop")
    low_balance_alert = MoneyField(help_text="USD; BALANCE_LOW alert threshold")
    allowed_instruments = serializers.ListField(child=serializers.CharField(), help_text="empty = all")
    blocked_instruments = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = RiskProfile
        fields = ("risk_tolerance", "max_daily_loss_amount", "max_daily_loss_pct", "auto_suspend_on_daily_loss",
                  "max_position_notional", "max_position_pct", "max_concurrent_positions", "allowed_instruments",
                  "blocked_instruments", "leverage_limit", "stop_loss_required", "stop_loss_pct",
                  "max_slippage_pct", "min_balance_to_copy", "low_balance_alert", "updated_at")


class InitialCapitalSerializer(serializers.Serializer):
    amount = MoneyField(source="initial_capital")
    currency = serializers.CharField(source="initial_capital_currency")


class AccountSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=AccountKind.choices)
    full_name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    tier = serializers.ChoiceField(choices=AccountTier.choices)
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    trading_enabled = serializers.BooleanField()
    initial_capital = InitialCapitalSerializer(source="*")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    risk_profile = RiskProfileSerializer(allow_null=True)
