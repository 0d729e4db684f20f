from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class SecurityConfig(AppConfig):
    """Sign-in and session hardening: lockout (django-axes) and its audited unlock, API throttles,
    staff session expiry, second factor (django-otp), re-authentication for sensitive actions."""

    name = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .services import signed_in_receiver  # imports models: only once apps are loaded

        user_logged_in.connect(signed_in_receiver, dispatch_uid="security-signed-in")
