from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing warehouse"

    def ready(self):
        from billing import statement_offers

        statement_offers.register()
