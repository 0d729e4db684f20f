from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from .roles import staff_groups_ensure  # imports auth's models: only once apps are loaded

        # Permissions exist only after migrate has run, so groups are kept in step there.
        post_migrate.connect(staff_groups_ensure, dispatch_uid="accounts.staff_groups_ensure")
