"""The demo city's ratings (`hezuo demo`, after the registry is generated): every year with facts rated
under the published rubric, the years before the last confirmed by the city, the last left provisional for
the districts to review. Deterministic: the engine's results follow from the generated facts."""

from __future__ import annotations

from typing import Any

from hezuo.core.context import change_context


def activity(seed: int, say: Any = print) -> None:
    from hezuo.accounts.models import User
    from hezuo.registry.models import YearlyFact

    from . import services

    city = User.objects.filter(role="city", is_active=True).order_by("pk").first()
    years = sorted(set(YearlyFact.objects.values_list("year", flat=True)))
    for year in years:
        if services.published_rubric(year) is None:
            continue
        with change_context(user=city, source="cli", reason="demo"):
            counts = services.rate(year)
        say(f"  rated {year}: {counts.done} cooperatives ({counts.undecided} undecided for missing facts)")
        if year != years[-1] and city is not None:
            confirmation = services.confirm(year, user=city, note="demo")
            say(f"  confirmed {year}: {confirmation}")
