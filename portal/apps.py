from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Customer portal"

    def ready(self):
        from portal import checks, signin  # noqa: F401 - registers the deploy checks and the sign-in audit receivers
