"""Locked sign-ins in the admin: django-axes' records, read-only, with an "Unlock" action that asks
for a reason and goes through security.services.login_unlock (audited). Deleting the records by
hand is not offered, so every unlock is in the audit chain."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin

from core.admin_actions import reason_action

from .services import login_unlock

unlock_logins = reason_action(
    name="unlock_logins", description="Unlock sign-in", service=login_unlock, permission="unlock",
    service_kwargs=lambda attempt: {"username": attempt.username},
)


@admin.register(AccessAttempt)
class LockedSignInAdmin(AccessAttemptAdmin):
    actions = [unlock_logins]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("axes.delete_accessattempt")


@admin.register(AccessLog)
class SignInLogAdmin(AccessLogAdmin):
    def has_delete_permission(self, request, obj=None) -> bool:
        return False
