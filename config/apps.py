from django.contrib.admin.apps import AdminConfig


class RestockAdminConfig(AdminConfig):
    """django.contrib.admin with the shop's own default site (it adds the dashboard)."""

    default_site = "backoffice.admin_site.RestockAdminSite"
