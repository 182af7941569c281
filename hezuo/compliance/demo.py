"""The demo city's rectification (`hezuo demo`, after the fieldwork): in each district, cases opened on
cooperatives whose visit found the books or the assembly lacking, one of them started. Seeded."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from hezuo.core.context import change_context


def activity(seed: int, say: Any = print) -> None:
    from hezuo.accounts.models import User
    from hezuo.fieldwork.models import Visit

    from . import rectification as rx
    from .models import RectificationCase

    for district_user in User.objects.filter(role="district", is_active=True).order_by("username"):
        lacking = (
            Visit.objects.filter(
                Q(books_kept=False) | Q(assembly_held=False),
                operating=True,
                cooperative__district_id=district_user.district_id,
            )
            .exclude(cooperative__rectification_cases__isnull=False)
            .values_list("cooperative_id", flat=True)
            .distinct()
            .order_by("cooperative_id")[:3]
        )
        for n, coop_id in enumerate(list(lacking)):
            from hezuo.registry.models import Cooperative, YearlyFact

            coop = Cooperative.objects.get(pk=coop_id)
            year = max(
                YearlyFact.objects.filter(cooperative=coop).values_list("year", flat=True), default=None
            )
            if year is None:
                continue
            with change_context(source="cli", reason="demo"):
                case = rx.open_case(district_user, coop, year=year, note="走访发现账簿或成员大会不规范。")
                if n == 0:
                    rx.start(case, district_user, note="已约谈理事长。")
    say(f"  rectification cases: {RectificationCase.objects.count()}")
