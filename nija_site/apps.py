from django.contrib.admin.apps import AdminConfig


class NijaAdminConfig(AdminConfig):
    """django.contrib.admin with the project's site (staff pages) as the default `admin.site`."""

    default_site = "nija_site.admin_site.NijaAdminSite"

    def ready(self):
        super().ready()  # autodiscovers every app's admin.py
        # Imported here, not at the top: the staff pages read models, which exist only once apps are loaded.
        from nija_site.staff_pages import staff_pages_register

        staff_pages_register(self.module.site)
