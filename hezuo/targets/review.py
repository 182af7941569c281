"""District review (年度综合业绩考评): each district scored for a year from its attainment of its targets.

score = Σ weight × min(actual / target, cap) × 100 over the metrics with a district target that year,
weights normalised to sum to 1. Weights and cap are the plan's settings (config["review"]: {"weights":
{metric: weight}, "cap": 1.0}); without weights every metric with district targets weighs the same.
Each score keeps its parts, so the table shows how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import Plan
from .progress import Progress, compute


@dataclass
class Part:
    key: str
    label: str
    weight: float
    target: Any
    actual: Any
    ratio: float | None
    points: float


@dataclass
class Score:
    code: str
    label: str
    score: float
    rank: int = 0
    parts: list[Part] = field(default_factory=list)
    provisional: bool = False


def settings_of(plan: Plan) -> tuple[dict[str, float], float]:
    review = (plan.config or {}).get("review") or {}
    weights = {str(k): float(v) for k, v in (review.get("weights") or {}).items() if float(v) > 0}
    return weights, float(review.get("cap", 1.0))


def scores(plan: Plan, user: Any, year: int, progress: Progress | None = None) -> list[Score]:
    result = progress or compute(plan, user)
    weights, cap = settings_of(plan)
    with_targets = [
        m for m in result.all_metrics if any(row.cell(m.key, year).target is not None for row in result.rows)
    ]
    if weights:
        with_targets = [m for m in with_targets if m.key in weights]
    raw = {m.key: weights.get(m.key, 1.0) for m in with_targets}
    total_weight = sum(raw.values()) or 1.0
    out: list[Score] = []
    for row in result.rows:
        parts = []
        provisional = False
        for m in with_targets:
            cell = row.cell(m.key, year)
            weight = raw[m.key] / total_weight
            ratio = cell.ratio
            points = weight * min(ratio, cap) * 100 if ratio is not None else 0.0
            provisional = provisional or bool(cell.actual and cell.actual.provisional)
            parts.append(
                Part(
                    m.key,
                    m.display_label,
                    round(weight, 4),
                    cell.target,
                    cell.actual.value if cell.actual else None,
                    ratio,
                    round(points, 2),
                )
            )
        out.append(Score(row.code, row.label, round(sum(p.points for p in parts), 2), 0, parts, provisional))
    out.sort(key=lambda s: (-s.score, s.code))
    for i, s in enumerate(out):
        s.rank = i + 1 if i == 0 or s.score != out[i - 1].score else out[i - 1].rank
    return out
