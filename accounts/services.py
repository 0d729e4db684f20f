"""Writes to the account registry. Each service is one transaction with its audit event, and
checks the transition first so a refused change writes nothing."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from compliance.services import (
    LINK_PLACEHOLDER,
    audit_event_record,
    communication_body_renderer_register,
    communication_record,
    notification_queue,
    welcome_communication_record,
)
from core.actors import Actor, reason_required
from core.decimals import decimal_for_field, to_decimal
from core.errors import ApplicationError
from core.validation import model_values_check

from .models import (
    RESERVED_USER_IDS,
    Account,
    ApiToken,
    RiskProfile,
    api_token_digest,
    time_zone_validate,
    user_id_validator,
)
from .portal_links import (
    INVITATION_KIND,
    PASSWORD_RESET_KIND,
    invitation_body,
    invitation_email_render,
    invitation_subject,
    password_reset_body,
    password_reset_email_render,
    password_reset_subject,
)
from .risk import risk_defaults, risk_values_clean

Status = Account.Status


def _locked(account: Account) -> Account:
    """Re-read the account under a row lock so two operators cannot interleave transitions."""
    return Account.objects.select_for_update().get(pk=account.pk)


def user_id_check(user_id: str) -> None:
    """Raise ApplicationError with the rule when `user_id` is not a valid account id (importers
    check ids before anything is written)."""
    try:
        user_id_validator(user_id)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0]) from None


def account_onboard(
    *, actor: Actor, user_id: str, full_name: str, email: str, phone: str = "",
    account_type: str = Account.AccountType.RETAIL, tier: str = Account.Tier.STARTER,
    risk_tolerance: str = RiskProfile.Tolerance.MEDIUM, initial_capital: Decimal | str = Decimal("0"),
    currency: str = "USD", master: bool = False, risk_overrides: dict[str, Any] | None = None,
) -> Account:
    """Create an account PENDING with trading off, plus its risk profile."""
    errors = []
    model_values_check(Account, {"user_id": user_id, "full_name": full_name, "email": email, "phone": phone or "",
                                 "initial_capital_currency": currency or ""},
                       labels={"full_name": "name", "initial_capital_currency": "currency"})
    try:
        user_id_validator(user_id)
    except ValidationError as exc:
        errors.append(exc.messages[0])
    if user_id in RESERVED_USER_IDS:
        errors.append(f"'{user_id}' is reserved (an alias in the API and the commands); choose another user_id")
    if not (full_name or "").strip():
        errors.append("name is required")
    try:
        validate_email(email)
    except ValidationError:
        errors.append(f"'{email}' is not a valid e-mail address")
    if account_type not in Account.AccountType.values:
        errors.append(f"account type must be one of {', '.join(Account.AccountType.values)}")
    if tier not in Account.Tier.values:
        errors.append(f"tier must be one of {', '.join(Account.Tier.values)}")
    capital = to_decimal(initial_capital, field="initial capital")
    if capital < 0:
        errors.append("initial capital cannot be negative")
    else:  # fits the column (1e30 does not); the value is kept as given
        decimal_for_field(capital, model_field=Account._meta.get_field("initial_capital"),
                          field="initial capital", allow_zero=True)
    currency = (currency or "").strip().upper()
    if not currency.isalnum() or len(currency) > 16:
        errors.append(f"'{currency}' is not a currency code")
    risk = {**risk_defaults(risk_tolerance), **(risk_overrides or {})}
    risk = {**risk, **risk_values_clean(risk)}
    if errors:
        raise ApplicationError("; ".join(errors))
    if Account.objects.filter(user_id=user_id).exists():
        raise ApplicationError(f"an account with user_id '{user_id}' already exists", code="duplicate")
    if master and Account.objects.filter(kind=Account.Kind.MASTER).exists():
        raise ApplicationError("a MASTER account already exists; there can be only one", code="duplicate")
    try:
        with transaction.atomic():
            account = Account.objects.create(
                kind=Account.Kind.MASTER if master else Account.Kind.USER, user_id=user_id,
                full_name=full_name.strip(), email=email, phone=phone or "", account_type=account_type,
                tier=tier, initial_capital=capital, initial_capital_currency=currency,
            )
            profile = RiskProfile.objects.create(account=account, **risk)
            audit_event_record(
                actor=actor, action="MASTER_CREATE" if master else "USER_CREATE", target_type="account",
                target_id=user_id, reason="onboarding",
                after={**account.snapshot(), "risk_profile": profile.snapshot()},
            )
            if not master:
                welcome_communication_record(actor=actor, account=account)
    except IntegrityError as exc:  # lost a race with a concurrent onboarding of the same id/master
        raise ApplicationError(f"could not create '{user_id}': it conflicts with an existing account",
                               code="duplicate") from exc
    return account


def _transition(
    *, actor: Actor, account: Account, action: str, reason: str, allowed_from: set[str],
    new_status: str, trading: bool, refuse: Callable[[Account], str | None] | None = None,
    extra: dict[str, Any] | None = None, notify: str = "",
) -> Account:
    with transaction.atomic():
        locked = _locked(account)
        problem = refuse(locked) if refuse else None
        if problem:
            raise ApplicationError(problem, code="invalid_transition")
        if locked.status not in allowed_from:
            raise ApplicationError(
                f"cannot {action.lower().replace('_', ' ')} {locked.user_id}: account is {locked.status}",
                code="invalid_transition",
            )
        before = locked.snapshot()
        locked.status = new_status
        locked.trading_enabled = trading
        for name, value in (extra or {}).items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", "trading_enabled", "updated_at", *(extra or {})])
        event = audit_event_record(actor=actor, action=action, target_type="account", target_id=locked.user_id,
                                   reason=reason, before=before, after=locked.snapshot())
        if notify:  # one message per change: the change's audit event is its period
            notification_queue(kind=notify, account=locked, period=f"audit-{event.seq}", actor=actor,
                               context={"reason": reason})
    account.refresh_from_db()
    return account


def account_trading_enable(*, actor: Actor, account: Account, reason: str = "") -> Account:
    """Turn trading on; the account becomes ACTIVE. Refused for INACTIVE accounts."""
    def refuse(a: Account) -> str | None:
        return f"trading is already enabled for {a.user_id}" if a.trading_enabled else None

    return _transition(actor=actor, account=account, action="TRADING_ENABLE", reason=(reason or "").strip(),
                       allowed_from={Status.PENDING, Status.ACTIVE, Status.SUSPENDED},
                       new_status=Status.ACTIVE, trading=True, refuse=refuse, notify="trading_enabled")


def account_trading_disable(*, actor: Actor, account: Account, reason: str) -> Account:
    """Turn trading off; the account becomes SUSPENDED until enabled again."""
    reason = reason_required(reason, "disable trading")
    def refuse(a: Account) -> str | None:
        return None if a.trading_enabled else f"trading is already disabled for {a.user_id}"

    return _transition(actor=actor, account=account, action="TRADING_DISABLE", reason=reason,
                       allowed_from={Status.ACTIVE}, new_status=Status.SUSPENDED, trading=False, refuse=refuse,
                       notify="trading_disabled")


def account_suspend(*, actor: Actor, account: Account, reason: str, notify: bool = True) -> Account:
    """`notify=False` when the caller sends its own message about it (the daily loss limit's)."""
    reason = reason_required(reason, "suspend an account")
    return _transition(actor=actor, account=account, action="ACCOUNT_SUSPEND", reason=reason,
                       allowed_from={Status.PENDING, Status.ACTIVE}, new_status=Status.SUSPENDED, trading=False,
                       notify="suspended" if notify else "")


def account_reactivate(*, actor: Actor, account: Account, reason: str) -> Account:
    """SUSPENDED back to ACTIVE. Trading stays off until an operator enables it explicitly."""
    reason = reason_required(reason, "reactivate an account")
    return _transition(actor=actor, account=account, action="ACCOUNT_REACTIVATE", reason=reason,
                       allowed_from={Status.SUSPENDED}, new_status=Status.ACTIVE, trading=False,
                       notify="reactivated")


def account_deactivate(*, actor: Actor, account: Account, reason: str) -> Account:
    """Final step of offboarding: INACTIVE is terminal."""
    reason = reason_required(reason, "deactivate an account")
    return _transition(actor=actor, account=account, action="ACCOUNT_DEACTIVATE", reason=reason,
                       allowed_from={Status.PENDING, Status.ACTIVE, Status.SUSPENDED},
                       new_status=Status.INACTIVE, trading=False)


def account_offboarding_start(*, actor: Actor, account: Account, reason: str) -> Account:
    """First step of offboarding: trading off and the account OFFBOARDING until every step is done."""
    reason = reason_required(reason, "offboard an account")

    def refuse(a: Account) -> str | None:
        return f"{a.user_id} is the MASTER account: it cannot be offboarded" if a.is_master else None

    return _transition(actor=actor, account=account, action="ACCOUNT_OFFBOARDING_START", reason=reason,
                       allowed_from={Status.PENDING, Status.ACTIVE, Status.SUSPENDED},
                       new_status=Status.OFFBOARDING, trading=False, refuse=refuse)


def account_offboarding_finish(*, actor: Actor, account: Account, reason: str, exited_at) -> Account:
    """Last step of offboarding: INACTIVE (terminal) with the exit date and reason."""
    reason = reason_required(reason, "finish an offboarding")
    return _transition(actor=actor, account=account, action="ACCOUNT_OFFBOARDING_FINISH", reason=reason,
                       allowed_from={Status.OFFBOARDING}, new_status=Status.INACTIVE, trading=False,
                       extra={"exited_at": exited_at, "exit_reason": reason})


def risk_profile_update(*, actor: Actor, account: Account, changes: dict[str, Any], reason: str = "") -> RiskProfile:
    """Validate the changed values against the rest of the profile, then save and audit."""
    with transaction.atomic():
        profile = RiskProfile.objects.select_for_update().get(account=account)
        before = profile.snapshot()
        clean = risk_values_clean(changes, current=before)
        changed = {k: v for k, v in clean.items() if before.get(k) != v}
        if not changed:
            return profile
        for name, value in changed.items():
            setattr(profile, name, value)
        profile.save()
        audit_event_record(actor=actor, action="RISK_PROFILE_UPDATE", target_type="account",
                           target_id=account.user_id, reason=(reason or "").strip(),
                           before={k: before[k] for k in changed}, after=changed)
    return profile


ACCOUNT_EDITABLE_FIELDS = ("full_name", "email", "phone", "account_type", "tier", "time_zone", "portal_user")


def account_update(*, actor: Actor, account: Account, changes: dict[str, Any], reason: str = "") -> Account:
    """Registry details only; status and trading change through the lifecycle services above."""
    unknown = set(changes) - set(ACCOUNT_EDITABLE_FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ApplicationError(f"these fields change through lifecycle services, not edits: {names}")
    model_values_check(Account, {k: v for k, v in changes.items() if k != "portal_user"},
                       labels={"full_name": "name"})
    if "email" in changes:
        try:
            validate_email(changes["email"])
        except ValidationError:
            raise ApplicationError(f"'{changes['email']}' is not a valid e-mail address") from None
    if "time_zone" in changes:
        try:
            time_zone_validate(changes["time_zone"])
        except ValidationError as exc:
            problem = exc.messages[0]
            raise ApplicationError(problem, code="invalid", extra={"fields": {"time_zone": problem}}) from None
    with transaction.atomic():
        locked = _locked(account)
        before = locked.snapshot()
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save()
        after = locked.snapshot()
        if before != after or "portal_user" in changes:
            audit_event_record(actor=actor, action="ACCOUNT_UPDATE", target_type="account",
                               target_id=locked.user_id, reason=(reason or "").strip(),
                               before={k: v for k, v in before.items() if after[k] != v},
                               after={k: v for k, v in after.items() if before[k] != v}
                               | ({"portal_user": str(locked.portal_user)} if "portal_user" in changes else {}))
    account.refresh_from_db()
    return account


# --- investor portal logins -------------------------------------------------------------------
communication_body_renderer_register(kind=INVITATION_KIND, renderer=invitation_email_render)
communication_body_renderer_register(kind=PASSWORD_RESET_KIND, renderer=password_reset_email_render)


def portal_invitation_send(*, actor: Actor, account: Account, reset_login: bool = False) -> Account:
    """Give the account's investor a portal login (username = user_id) and e-mail a one-time link to
    set its password. Inviting again gives the login a new unusable password, which kills every
    older link. A login whose investor already set a password is only reset with `reset_login`.
    The e-mail is a communication-log row (without the link) and the invitation an audit event."""
    if account.is_master:
        raise ApplicationError("the MASTER account has no investor; nobody to invite", code="invalid")
    User = get_user_model()
    with transaction.atomic():
        locked = _locked(account)
        user = locked.portal_user
        reinvite = user is not None
        if user is None:
            if User.objects.filter(username=locked.user_id).exists():
                raise ApplicationError(
                    f"a login named '{locked.user_id}' already exists and is not linked to this account; "
                    "link it as the account's portal user in the admin, or remove it", code="duplicate")
            user = User.objects.create_user(username=locked.user_id, email=locked.email)  # no usable password
            locked.portal_user = user
            locked.save(update_fields=["portal_user", "updated_at"])
        elif user.is_staff:
            raise ApplicationError(f"the portal user of {locked.user_id} is a staff login; refusing to reset it",
                                   code="invalid")
        elif user.has_usable_password() and not reset_login:
            raise ApplicationError(
                f"{locked.user_id} has already set a portal password; the investor can use 'Forgot your "
                "password?', or invite again with a reset to replace it", code="invalid_transition")
        user.email = locked.email
        user.is_active = True
        user.set_unusable_password()  # a fresh random marker: the hash inside every older link no longer matches
        user.save()
        message = communication_record(
            actor=actor, account=locked, kind=INVITATION_KIND, channel="email",
            subject=invitation_subject(), body=invitation_body(account=locked, link=LINK_PLACEHOLDER))
        audit_event_record(actor=actor, action="PORTAL_INVITE", target_type="account", target_id=locked.user_id,
                           reason="re-invitation" if reinvite else "invitation",
                           after={"login": user.get_username(), "communication_id": message.id,
                                  "link_valid_days": settings.NIJA_PORTAL_INVITE_DAYS, "password_reset": reinvite})
    account.refresh_from_db()
    return account


def portal_password_reset_send(*, account: Account) -> None:
    """E-mail the investor a password reset link (requested on the portal's sign-in page)."""
    with transaction.atomic():
        communication_record(
            actor="portal", account=account, kind=PASSWORD_RESET_KIND, channel="email",
            subject=password_reset_subject(),
            body=password_reset_body(account=account, link=LINK_PLACEHOLDER))
        audit_event_record(actor="portal", action="PORTAL_PASSWORD_RESET_REQUEST", target_type="account",
                           target_id=account.user_id, reason="requested on the sign-in page")


def portal_password_set(*, account: Account, how: str) -> None:
    """Record that the investor set a new portal password (`how`: invitation, reset or change)."""
    audit_event_record(actor=account.portal_user, action="PORTAL_PASSWORD_SET", target_type="account",
                       target_id=account.user_id, reason=how)


API_TOKEN_PREFIX = "nija_"
API_TOKEN_MAX_DAYS = 3650
API_TOKEN_TOUCH_SECONDS = 60  # last-used time is kept to the minute: no write on every request


def api_token_create(*, actor: Actor, user, name: str, expires_days: int | None = 90) -> tuple[ApiToken, str]:
    """A new token for `user`: the row (digest only) and the token text, which is never stored and
    cannot be shown again. `expires_days=None` never expires."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ApplicationError("a token needs a name of 1 to 100 characters")
    if expires_days is not None and not 1 <= expires_days <= API_TOKEN_MAX_DAYS:
        raise ApplicationError(f"expires_days must be between 1 and {API_TOKEN_MAX_DAYS}")
    if not user.is_active:
        raise ApplicationError(f"user {user} is inactive")
    text = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=text[:12], digest=api_token_digest(text),
                                        created_by=str(actor or "system")[:150], expires_at=expires_at)
        audit_event_record(actor=actor, action="API_TOKEN_CREATE", target_type="api_token", target_id=str(token.pk),
                           after=token.snapshot())
    return token, text


def api_token_revoke(*, actor: Actor, token: ApiToken, reason: str = "") -> ApiToken:
    """Revoke at once (a revoked token is refused from its next request). Revoking twice changes nothing."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if locked.revoked_at is not None:
            return locked
        before = locked.snapshot()
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_event_record(actor=actor, action="API_TOKEN_REVOKE", target_type="api_token", target_id=str(locked.pk),
                           reason=reason, before=before, after=locked.snapshot())
    return locked


def api_token_touch(*, token: ApiToken) -> None:
    """Record the token's use, at most once per API_TOKEN_TOUCH_SECONDS."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk).update(
            last_used_at=now)
def portal_login_set_password(*, actor: Actor, account: Account, password: str) -> Account:
    """Give the account's investor a portal login with this password directly (the embedded demo's
    ensure_portal_login; investors get invitations instead). Audited like any password set."""
    if account.is_master:
        raise ApplicationError("the MASTER account has no investor", code="invalid")
    User = get_user_model()
    with transaction.atomic():
        locked = _locked(account)
        user = locked.portal_user
        if user is None:
            user = User.objects.filter(username=locked.user_id).first() or User(username=locked.user_id)
            if user.is_staff:
                raise ApplicationError(f"'{locked.user_id}' is a staff login; refusing to make it a portal login")
        user.email = locked.email
        user.set_password(password)
        user.save()
        if locked.portal_user_id != user.pk:
            locked.portal_user = user
            locked.save(update_fields=["portal_user", "updated_at"])
        audit_event_record(actor=actor, action="PORTAL_PASSWORD_SET", target_type="account",
                           target_id=locked.user_id, reason="set by staff (demo login)")
    account.refresh_from_db()
    return account
