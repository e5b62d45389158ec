from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self):
        from trading import checks  # noqa: F401  (registers the deploy checks)
