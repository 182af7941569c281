"""The demo city's fieldwork (`hezuo demo`, after the ratings): the detection of the last fiscal year, a
season of counselor visits (a few finding a shell or dormant cooperative), a survey campaign of the
sponsored and member cooperatives, and cleanup cases at each step of their workflow. Seeded."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from hezuo.core.context import change_context


def activity(seed: int, say: Any = print) -> None:
    from hezuo.accounts.models import CounselorAssignment, User

    from . import cleanup, runs
    from .campaigns import open_campaign
    from .models import Flag
    from .visits import record_visit

    rnd = random.Random(seed + 5)
    today = timezone.localdate()
    city = User.objects.filter(role="city", is_active=True).order_by("pk").first()
    if city is None:
        return
    run = runs.run_detection(year=runs.default_year(today))
    say(f"  detection {run.year}: {run.flags_created} flags")

    # a survey campaign of the cooperatives linked with the system, over the last two months and the next one
    from django.core.exceptions import ValidationError

    try:
        campaign = open_campaign(
            city,
            name="全市参办领办及农合联会员合作社摸底排查",
            district=None,
            start_date=today - dt.timedelta(days=60),
            end_date=today + dt.timedelta(days=30),
            rule={"links": ["sponsored", "member"], "statuses": []},
            note="demo",
        )
    except ValidationError:  # a small demo city may have no cooperative linked with the system
        campaign = None
    say(f"  campaign: {campaign.target_count if campaign else 0} cooperatives")

    # visits: each counselor visits some of their cooperatives (those of the campaign for it)
    flagged = dict(
        Flag.objects.filter(status=Flag.Status.OPEN).values_list("cooperative_id", "kind").order_by("pk")
    )
    targets = set(campaign.targets.values_list("cooperative_id", flat=True)) if campaign else set()
    visits = 0
    for assignment in CounselorAssignment.objects.current(today).select_related("counselor", "cooperative"):
        coop = assignment.cooperative
        if rnd.random() > 0.45:
            continue
        date = today - dt.timedelta(days=rnd.randint(0, 55))
        kind = flagged.get(coop.pk)
        operating = kind != "shell" or rnd.random() < 0.3
        classification = (
            "suspected_shell"
            if kind == "shell" and not operating
            else "suspected_dormant"
            if kind == "dormant" and rnd.random() < 0.5
            else "normal"
        )
        values = {
            "date": max(date, coop.registration_date or date),
            "people_met": rnd.choice(["理事长", "理事长、会计", "监事长", "成员代表", "村委会主任"]),
            "operating": operating,
            "farmers_taking_part": operating and rnd.random() < 0.9,
            "books_kept": operating and rnd.random() < 0.8,
            "assembly_held": operating and rnd.random() < 0.7,
            "office_and_sign": operating or rnd.random() < 0.4,
            "classification": classification,
            "feedback_neighbours": "" if operating else "近两年未见经营活动。",
            "campaign": campaign if coop.pk in targets else None,
        }
        with change_context(user=assignment.counselor, source="cli", reason="demo"):
            record_visit(assignment.counselor, coop, values)
        visits += 1
    say(f"  visits: {visits}")

    # cleanup cases: per district, one flagged cooperative opened, one verified, one approved, one closed
    for district_user in User.objects.filter(role="district", is_active=True).order_by("username"):
        shells = list(
            Flag.objects.filter(
                status=Flag.Status.OPEN, kind="shell", cooperative__district_id=district_user.district_id
            )
            .values_list("cooperative_id", flat=True)
            .distinct()
            .order_by("cooperative_id")[:4]
        )
        for step, coop_id in enumerate(shells):
            from hezuo.registry.models import Cooperative

            coop = Cooperative.objects.get(pk=coop_id)
            with change_context(source="cli", reason="demo"):
                case = cleanup.open_case(district_user, coop)
                if step >= 1:
                    case = cleanup.verify(
                        case,
                        district_user,
                        finding="shell",
                        note="走访核实：无经营、无成员参与。",
                        visit_date=today,
                    )
                if step >= 2:
                    case = cleanup.approve(case, city, note="同意清理。")
                if step >= 3:
                    case = cleanup.carry_out(
                        case,
                        city,
                        action_date=today,
                        reason="空壳社清理",
                        referral_date=today,
                        referral_authority="market_regulator",
                        referral_document=f"甬市监〔{today.year}〕{rnd.randint(10, 99)}号",
                    )
                    case = cleanup.close(case, city, note="已移送注销。")
    say(f"  cleanup cases: {cleanup.CleanupCase.objects.count()}")
