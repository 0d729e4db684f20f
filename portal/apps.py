from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The investor portal: read-only pages about the signed-in investor's own account. Computations
    live in `reporting` (its selectors); this app only presents them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Investor portal"
