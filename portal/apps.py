from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Customer portal"

    def ready(self):
        from billing.contacts import register_billing_recipients
        from portal import checks, signin  # noqa: F401 - registers the deploy checks and the sign-in audit receivers
        from portal.scopes import billing_recipients

        register_billing_recipients(billing_recipients)
