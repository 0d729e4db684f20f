from __future__ import annotations

from django.db.models import QuerySet

from core.errors import ApplicationError

from .models import Account


def account_get(*, user_id: str) -> Account:
    """`master` is accepted as an alias for the MASTER account, as operators type it."""
    qs = Account.objects.select_related("risk_profile")
    account = qs.filter(kind=Account.Kind.MASTER).first() if user_id == "master" else qs.filter(user_id=user_id).first()
    if account is None:
        raise ApplicationError(f"no account with user_id '{user_id}'", code="not_found")
    return account


def account_list(*, status: str | None = None, kind: str | None = None) -> QuerySet[Account]:
    qs = Account.objects.select_related("risk_profile").order_by("kind", "user_id")
    if status:
        status = status.upper()
        if status not in Account.Status.values:
            raise ApplicationError(f"status must be one of {', '.join(Account.Status.values)}")
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def account_master() -> Account | None:
    return Account.objects.filter(kind=Account.Kind.MASTER).first()


def account_summary(account: Account) -> dict:
    """The JSON shape `user_status` and the API use."""
    risk = getattr(account, "risk_profile", None)
    return {
        "user_id": account.user_id, "kind": account.kind, "name": account.full_name, "email": account.email,
        "phone": account.phone, "account_type": account.account_type, "tier": account.tier,
        "status": account.status, "trading_enabled": account.trading_enabled,
        "initial_capital": {"amount": account.initial_capital, "currency": account.initial_capital_currency},
        "created_at": account.created_at, "updated_at": account.updated_at,
        "risk_profile": risk.snapshot() if risk else None,
    }
