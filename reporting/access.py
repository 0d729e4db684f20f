"""Who may read which account's reporting: an investor only their own (Account.portal_user), staff
with the reporting view permission every account. Anything else is "not found", so account ids are
not revealed."""

from __future__ import annotations

from django.http import Http404

from accounts.models import Account


def account_for_user(*, user, user_id: str) -> Account:
    if not user.is_authenticated:
        raise Http404("no such account")
    if user_id == "me":
        account = Account.objects.filter(portal_user=user).select_related("risk_profile").first()
    else:
        account = Account.objects.filter(user_id=user_id).select_related("risk_profile").first()
    if account is None:
        raise Http404("no such account")
    if account.portal_user_id == user.pk:
        return account
    if user.is_staff and user.has_perm("reporting.view_report"):
        return account
    raise Http404("no such account")
