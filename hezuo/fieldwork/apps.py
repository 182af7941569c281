from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FieldworkConfig(AppConfig):
    name = "hezuo.fieldwork"
    label = "fieldwork"
    verbose_name = _("Fieldwork")

    def ready(self) -> None:
        # the plan's metrics (campaign_visited, shells_cleaned), the reminder and timeline sources
        from . import metrics, reminders, timeline  # noqa: F401
