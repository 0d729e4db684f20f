"""Staff groups. "viewer" reads everything staff can see; "operator" also changes trading state,
risk profiles and registry details. Other apps add their operator permissions to OPERATOR_PERMISSIONS."""

from django.contrib.auth.models import Group, Permission

STAFF_APPS = ("accounts", "compliance", "brokers", "copytrading", "reporting", "operations", "django_celery_beat",
              "axes")

OPERATOR_PERMISSIONS = [
    "accounts.add_account",
    "accounts.change_account",
    "accounts.change_trading_state",
    "accounts.change_riskprofile",
    "accounts.add_apitoken",
    "accounts.change_apitoken",
    "copytrading.change_engine_mode",
    "compliance.add_communication",
    "compliance.change_communication",  # follow-ups only (the admin keeps everything else read-only)
    "compliance.add_notificationpreference",  # notification preferences on the account page
    "compliance.change_notificationpreference",
    "reporting.add_ledgerentry",
    "reporting.change_reconciliationbreak",
    "brokers.add_brokercredential",
    "brokers.change_brokercredential",
    "brokers.change_alert",
    "axes.delete_accessattempt",  # unlock a locked sign-in (security.services.login_unlock)
    "operations.add_offboarding",
    "operations.change_compliancefinding",  # acknowledge or resolve a compliance finding
]


def _permissions(codes: list[str]) -> list[Permission]:
    found = []
    for code in codes:
        app_label, codename = code.split(".")
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm:
            found.append(perm)
    return found


def staff_groups_ensure(**_: object) -> None:
    """Idempotent; runs after every migrate so new models' view permissions reach the groups."""
    view = list(Permission.objects.filter(content_type__app_label__in=STAFF_APPS, codename__startswith="view_"))
    viewer, _ = Group.objects.get_or_create(name="viewer")
    viewer.permissions.set(view)
    operator, _ = Group.objects.get_or_create(name="operator")
    operator.permissions.set(view + _permissions(OPERATOR_PERMISSIONS))
