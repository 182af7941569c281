from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    """Bringing cooperatives up to the Farmer Cooperatives Law: the K01–K23 checklist, rectification
    cases with their tasks, and special assistance (专项帮扶)."""

    label = "compliance"
    name = "hezuo.compliance"
    verbose_name = _("Compliance and rectification")

    def ready(self) -> None:
        # the metric `rectifications_completed`; the reminder and timeline sources of hezuo.fieldwork
        from hezuo.core.services import after_change

        from . import metrics, reminders, timeline, worklist  # noqa: F401
        from .rectification import open_after_visit

        # a counselor's visit classified "needs rectification" opens the cooperative's case
        after_change("fieldwork.visit")(open_after_visit)
