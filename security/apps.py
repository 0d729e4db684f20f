from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Sign-in and session hardening: lockout (django-axes) and its audited unlock, API throttles,
    staff session expiry, second factor (django-otp), re-authentication for sensitive actions."""

    name = "security"
    default_auto_field = "django.db.models.BigAutoField"
