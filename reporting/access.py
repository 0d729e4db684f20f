"""Who may read which account's reporting: an investor only their own (Account.portal_user), staff
with the reporting view permission every account. Anything else is "not found", so account ids are
not revealed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from accounts.selectors import account_find, account_of_portal_user

if TYPE_CHECKING:
    from accounts.models import Account


def account_for_user(*, user, user_id: str) -> Account:
    if not user.is_authenticated:
        raise Http404("no such account")
    account = account_of_portal_user(user=user) if user_id == "me" else account_find(user_id=user_id)
    if account is None:
        raise Http404("no such account")
    if account.portal_user_id == user.pk:
        return account
    if user.is_staff and user.has_perm("reporting.view_report"):
        return account
    raise Http404("no such account")
