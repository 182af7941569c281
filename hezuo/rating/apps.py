from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RatingConfig(AppConfig):
    name = "hezuo.rating"
    label = "rating"
    verbose_name = _("Star rating")

    def ready(self) -> None:
        from hezuo.core.services import after_bulk_change, after_change

        from . import monitoring, worklist  # noqa: F401  (worklist: alerts on the counselor's home)

        # dynamic monitoring: a change of a cooperative, its facts or titles re-evaluates its stars
        after_change("registry.cooperative", "registry.yearlyfact", "registry.demonstrationtitle")(
            monitoring.reevaluate_for
        )
        after_bulk_change("registry.cooperative")(monitoring.reevaluate_many)
        after_bulk_change("registry.yearlyfact")(
            lambda pks: monitoring.reevaluate_many(_owners("yearlyfact", pks)) if _rated() else 0
        )
        after_bulk_change("registry.demonstrationtitle")(
            lambda pks: monitoring.reevaluate_many(_owners("demonstrationtitle", pks)) if _rated() else 0
        )
        # shell/dormant flags of the detection: the cooperative is evaluated as a shell or dormant one
        after_change("fieldwork.flag")(monitoring.reevaluate_for)
        after_bulk_change("fieldwork.flag")(monitoring.reevaluate_flagged)


def _rated() -> bool:
    """Whether anything is rated (before the first rating, a bulk change has no stars to re-evaluate)."""
    from .models import Rating

    return Rating.objects.filter(retired_at__isnull=True).exists()


def _owners(model_name: str, pks: list[int]) -> list[int]:
    """The cooperatives the given child records belong to."""
    from django.apps import apps

    model = apps.get_model("registry", model_name)
    return list(model.objects.filter(pk__in=pks).values_list("cooperative_id", flat=True).distinct())
