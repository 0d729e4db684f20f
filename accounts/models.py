import hashlib
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from core.fields import AmountField, CurrencyField

from .choices import AccountKind, AccountStatus, AccountTier, AccountType

USER_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"
# Aliases the API (`me`) and the commands (`master`) give a meaning: never a user id.
RESERVED_USER_IDS = frozenset({"me", "master"})
user_id_validator = RegexValidator(
    USER_ID_PATTERN,
    "user_id is a lower-case slug: letters, digits, '_' or '-', 2 to 63 characters.",
)


def time_zone_validate(value: str) -> None:
    """An IANA zone name (Europe/Berlin, America/New_York, UTC): the portal shows dates in it."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a time zone name such as UTC or Europe/Berlin.")


class Account(models.Model):
    Kind = AccountKind
    AccountType = AccountType
    Tier = AccountTier
    Status = AccountStatus

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USER)
    user_id = models.CharField(max_length=63, unique=True, validators=[user_id_validator])
    full_name = models.CharField("full legal name", max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=32, blank=True)
    account_type = models.CharField(max_length=16, choices=AccountType.choices, default=AccountType.RETAIL)
    tier = models.CharField("subscription tier", max_length=16, choices=Tier.choices, default=Tier.STARTER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, editable=False)
    trading_enabled = models.BooleanField(default=False, editable=False)
    exited_at = models.DateTimeField("exit date", null=True, blank=True, editable=False,
                                     help_text="set when offboarding finishes (INACTIVE)")
    exit_reason = models.TextField(blank=True, editable=False)
    initial_capital = AmountField(default=Decimal("0"))
    initial_capital_currency = CurrencyField(default="USD")
    portal_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="nija_account", help_text="Django login that may see this account in the portal.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[time_zone_validate],
        help_text="IANA time zone the investor portal shows dates in (UTC is shown on hover).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id"]
        permissions = [
            ("change_trading_state", "Can enable, disable, suspend and reactivate trading"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="MASTER"), name="accounts_at_most_one_master"
            ),
            models.CheckConstraint(condition=models.Q(initial_capital__gte=0), name="accounts_capital_non_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=["PENDING", "ACTIVE", "SUSPENDED", "OFFBOARDING", "INACTIVE"]),
                name="accounts_status_valid",
            ),
            # Trading can only be on for an ACTIVE account.
            models.CheckConstraint(
                condition=models.Q(trading_enabled=False) | models.Q(status="ACTIVE"),
                name="accounts_trading_only_when_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ({self.get_kind_display()})"

    @property
    def is_master(self) -> bool:
        return self.kind == self.Kind.MASTER

    def snapshot(self) -> dict:
        """The fields an audit event records before and after a change."""
        return {
            "user_id": self.user_id, "kind": self.kind, "status": self.status,
            "trading_enabled": self.trading_enabled, "exited_at": self.exited_at, "exit_reason": self.exit_reason,
            "account_type": self.account_type, "tier": self.tier,
            "full_name": self.full_name, "email": self.email, "phone": self.phone, "time_zone": self.time_zone,
            "initial_capital": self.initial_capital, "initial_capital_currency": self.initial_capital_currency,
        }


class RiskProfile(models.Model):
    """Per-account limits (DESIGN.md §6). Percentages are in (0, 100]; limits are positive."""

    class Tolerance(models.TextChoices):
        LOW = "LOW", "Low"
        MEDIUM = "MEDIUM", "Medium"
        HIGH = "HIGH", "High"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="risk_profile")
    risk_tolerance = models.CharField(max_length=8, choices=Tolerance.choices, default=Tolerance.MEDIUM)
    max_daily_loss_amount = AmountField(null=True, blank=True, help_text="USD; empty = no amount limit")
    max_daily_loss_pct = AmountField(null=True, blank=True, help_text="% of start-of-day equity")
    auto_suspend_on_daily_loss = models.BooleanField(default=False)
    max_position_notional = AmountField(help_text="USD per position")
    max_position_pct = AmountField(default=Decimal("20"), help_text="% of equity per position")
    max_concurrent_positions = models.PositiveIntegerField(default=5)
    allowed_instruments = models.JSONField(default=list, blank=True, help_text="Symbols; empty = all")
    blocked_instruments = models.JSONField(
        default=list, blank=True, help_text="Symbols this account never copies (entries or exits), e.g. XRP/USD",
    )
    leverage_limit = AmountField(default=Decimal("1"), help_text="1 = spot only")
    stop_loss_required = models.BooleanField(default=False)
    stop_loss_pct = AmountField(null=True, blank=True, help_text="Stop distance % below entry")
    max_slippage_pct = AmountField(default=Decimal("0.5"))
    min_balance_to_copy = AmountField(default=Decimal("10"), help_text="USD equity below which copies stop")
    low_balance_alert = AmountField(default=Decimal("50"), help_text="USD; BALANCE_LOW alert threshold")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_position_notional__gt=0), name="risk_position_notional_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(max_position_pct__gt=0, max_position_pct__lte=100), name="risk_position_pct_range"
            ),
            models.CheckConstraint(
                condition=models.Q(max_slippage_pct__gt=0, max_slippage_pct__lte=100), name="risk_slippage_pct_range"
            ),
            models.CheckConstraint(condition=models.Q(leverage_limit__gt=0), name="risk_leverage_positive"),
            models.CheckConstraint(
                condition=models.Q(max_daily_loss_pct__isnull=True)
                | models.Q(max_daily_loss_pct__gt=0, max_daily_loss_pct__lte=100),
                name="risk_daily_loss_pct_range",
            ),
            models.CheckConstraint(
                condition=models.Q(stop_loss_pct__isnull=True) | models.Q(stop_loss_pct__gt=0, stop_loss_pct__lte=100),
                name="risk_stop_pct_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Risk profile of {self.account.user_id} ({self.risk_tolerance})"

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in RISK_PROFILE_FIELDS}


RISK_PROFILE_FIELDS = (
    "risk_tolerance", "max_daily_loss_amount", "max_daily_loss_pct", "auto_suspend_on_daily_loss",
    "max_position_notional", "max_position_pct", "max_concurrent_positions", "allowed_instruments",
    "blocked_instruments", "leverage_limit", "stop_loss_required", "stop_loss_pct", "max_slippage_pct",
    "min_balance_to_copy", "low_balance_alert",
)


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal access token for programs calling the API. Only the SHA-256 digest of the token is
    stored (the token is 256 random bits, so a plain digest cannot be guessed back); the token
    itself is shown once, when created. It acts as its user, read-only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what the token is for, e.g. 'nightly export'")
    prefix = models.CharField(max_length=16, editable=False, help_text="the token's first characters, to recognise it")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="empty: never expires")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    def snapshot(self) -> dict:
        return {"user": str(self.user), "name": self.name, "prefix": self.prefix, "expires_at": self.expires_at,
                "revoked_at": self.revoked_at}
