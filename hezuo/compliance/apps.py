from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    """Bringing cooperatives up to the Farmer Cooperatives Law: the K01–K23 checklist, rectification
    cases with their tasks, and special assistance (专项帮扶)."""

    label = "compliance"
    name = "hezuo.compliance"
    verbose_name = _("Compliance and rectification")
