"""Locked sign-ins in the admin: django-axes' records, read-only, with an "Unlock" action that asks
for a reason and goes through security.services.login_unlock (audited). Deleting the records by
hand is not offered, so every unlock is in the audit chain."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

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


# django-otp's own admin pages show each device's secret key: not offered. Devices are managed on the
# staff page "Two-factor sign-in" and with reset_two_factor (both audited).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
