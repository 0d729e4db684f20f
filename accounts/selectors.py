from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import ApplicationError

from .models import USER_ID_PATTERN, Account, ApiToken, api_token_digest

USER_ID_RE = re.compile(USER_ID_PATTERN)


def account_get(*, user_id: str) -> Account:
    """`master` is accepted as an alias for the MASTER account, as operators type it."""
    qs = Account.objects.select_related("risk_profile")
    if user_id == "master":
        account = qs.filter(kind=Account.Kind.MASTER).first()
    elif user_id_plausible(user_id):
        account = qs.filter(user_id=user_id).first()
    else:
        account = None  # not a slug (a NUL, a path): no such account, without asking the database
    if account is None:
        raise ApplicationError(f"no account with user_id {user_id!r}", code="not_found")
    return account


def user_id_plausible(user_id: object) -> bool:
    return isinstance(user_id, str) and USER_ID_RE.match(user_id) is not None


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


def accounts_filtered(*, status: str | None = None, kind: str | None = None, account_type: str | None = None,
                      tier: str | None = None, trading_enabled: bool | None = None,
                      search: str | None = None, with_risk_profile: bool = True) -> QuerySet[Account]:
    """The registry filtered as the staff list and dashboard offer it (values already validated by
    the caller's form or serializer); `search` matches user id, name or e-mail. Unordered: the
    caller's paginator orders it. `with_risk_profile=False` for a caller that shows none (the
    dashboard ranks every account before it takes a page: a join it would carry for nothing)."""
    qs = Account.objects.select_related("risk_profile") if with_risk_profile else Account.objects.all()
    exact = {"status": status, "kind": kind, "account_type": account_type, "tier": tier,
             "trading_enabled": trading_enabled}
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if search:
        qs = qs.filter(Q(user_id__icontains=search) | Q(full_name__icontains=search) | Q(email__icontains=search))
    return qs


def accounts_offboardable() -> QuerySet[Account]:
    """USER accounts an offboarding may start for (not INACTIVE, not already offboarding)."""
    return Account.objects.filter(kind=Account.Kind.USER).exclude(
        status__in=[Account.Status.INACTIVE, Account.Status.OFFBOARDING]).order_by("user_id")


def account_master() -> Account | None:
    return Account.objects.filter(kind=Account.Kind.MASTER).first()


def account_find(*, user_id: str) -> Account | None:
    """The account with exactly this user_id (no `master` alias), or None. A user id that is not a
    slug (a NUL, a path) is None without asking the database."""
    if not user_id_plausible(user_id):
        return None
    return Account.objects.select_related("risk_profile").filter(user_id=user_id).first()


def account_for_preview(*, preferred_user_id: str = "") -> Account:
    """An account to show message templates with: `preferred_user_id`, else the first USER account,
    else an unsaved example (never stored)."""
    account = (account_find(user_id=preferred_user_id) if preferred_user_id else None) or (
        Account.objects.select_related("risk_profile").filter(kind=Account.Kind.USER).order_by("id").first())
    return account or Account(user_id="demo_investor", full_name="Demo Investor", email="demo@example.com")


def account_of_portal_user(*, user) -> Account | None:
    """The account a portal login may see as its own, or None."""
    return Account.objects.select_related("risk_profile").filter(portal_user=user).first()


def account_by_id(*, account_id: int) -> Account:
    return Account.objects.select_related("risk_profile").get(pk=account_id)


def accounts_by_id(*, ids) -> dict[int, Account]:
    return Account.objects.select_related("risk_profile").in_bulk(list(ids))


def accounts_by_user_id(*, user_ids) -> dict[str, Account]:
    return {a.user_id: a for a in Account.objects.select_related("risk_profile").filter(user_id__in=list(user_ids))}


def accounts_in(*, ids) -> QuerySet[Account]:
    """These accounts (a list of ids or a subquery of them), by user_id."""
    return Account.objects.select_related("risk_profile").filter(pk__in=ids).order_by("user_id")


ACCOUNT_REF_COLUMNS = ("pk", "user_id", "full_name", "kind", "status", "account_type", "tier", "trading_enabled")


def account_rows(*, ids, search: str | None = None) -> QuerySet:
    """These accounts (a list of ids or a subquery of them) as a values queryset of plain rows of
    ACCOUNT_REF_COLUMNS, unordered (a paginator orders it); `search` as in `accounts_filtered`."""
    qs = Account.objects.filter(pk__in=ids)
    if search:
        qs = qs.filter(Q(user_id__icontains=search) | Q(full_name__icontains=search) | Q(email__icontains=search))
    return qs.values(*ACCOUNT_REF_COLUMNS)


def account_rows_in(*, ids) -> list[dict]:
    """These accounts as plain rows, by user_id: for lists over thousands of accounts, where model
    instances cost most of the time."""
    return list(account_rows(ids=ids).order_by("user_id"))


def accounts_copy_followers() -> QuerySet[Account]:
    """The accounts the engine copies to: USER accounts, ACTIVE, trading on."""
    return Account.objects.filter(kind=Account.Kind.USER, status=Account.Status.ACTIVE, trading_enabled=True)


def account_ids_trading(*, ids) -> QuerySet:
    """Of these accounts, the ids of those ACTIVE with trading on (a values queryset: usable as
    a subquery or a list)."""
    return Account.objects.filter(pk__in=ids, status=Account.Status.ACTIVE, trading_enabled=True).values_list(
        "pk", flat=True)


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


def accounts_with_portal_login_by_email(*, email: str) -> list[Account]:
    """USER accounts with this e-mail whose portal login is active (the password reset form's lookup)."""
    return list(Account.objects.select_related("portal_user").filter(
        kind=Account.Kind.USER, email__iexact=email, portal_user__isnull=False, portal_user__is_active=True,
        portal_user__is_staff=False))


def api_token_valid(*, token: str) -> ApiToken | None:
    """The live token with this text (not revoked, not expired, its user active), or None."""
    return (ApiToken.objects.select_related("user").filter(digest=api_token_digest(token), revoked_at__isnull=True,
                                                           user__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).first())


def api_tokens_of(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def login_user_get(*, username: str):
    """The Django login with this username, or ApplicationError(code="not_found")."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ApplicationError(f"no user with username {username!r}", code="not_found")
    return user


def api_token_get(*, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise ApplicationError(f"no API token with id {token_id}", code="not_found")
    return token


def accounts_pending_since(*, before) -> QuerySet[Account]:
    """Accounts still PENDING that were created before `before` (the daily compliance check)."""
    return Account.objects.filter(status=Account.Status.PENDING, created_at__lt=before).order_by("created_at", "pk")


def account_ids_with_status(*, status: str) -> list[int]:
    """Ids of the accounts in `status` (an AccountStatus value), in id order."""
    return list(Account.objects.filter(status=status).order_by("pk").values_list("pk", flat=True))
