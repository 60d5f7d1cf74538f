from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Customer portal"

    def ready(self):
        from portal import signin  # noqa: F401 - connects the sign-in audit signal receivers
