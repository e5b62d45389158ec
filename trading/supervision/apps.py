from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "trading.supervision"
    label = "supervision"
    verbose_name = _("电子监察")

    def ready(self):
        # The rows of RULES.md and the checks that live here; other apps add theirs in their own ready().
        from trading.supervision import checks  # noqa: F401
