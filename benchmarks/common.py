"""Shared benchmark plumbing: a prepared database of BENCH_SIZE generated cooperatives, timers, output.

Each benchmark prints lines `bench: <key> = <number> [unit]` (the contract in DESIGN.md).
The database is SQLite under bench-data/ by default, or PostgreSQL when DATABASE_URL is set; it is
generated once per size and seed and reused by later runs (a marker table records what it holds).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZE = int(os.environ.get("BENCH_SIZE", "100000"))
SEED = int(os.environ.get("BENCH_SEED", "2025"))


def configure() -> None:
    """Point Django at the benchmark database and set it up."""
    if not os.environ.get("DATABASE_URL"):
        data = ROOT / "bench-data"
        data.mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{data / f'bench-{SIZE}-{SEED}.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hezuo.settings")
    import django

    django.setup()


def prepare() -> None:
    """Migrate, load divisions and generate the cooperatives once for this size and seed."""
    from django.core.management import call_command

    from hezuo.registry.models import Cooperative

    call_command("setup", verbosity=0)
    have = Cooperative.objects.count()
    if have == SIZE:
        print(f"# reusing database with {have} cooperatives", flush=True)
        return
    if have:
        raise SystemExit(
            f"the benchmark database holds {have} cooperatives, not {SIZE}: "
            "remove bench-data/ or use another database"
        )
    from hezuo.registry.demo import generate

    started = time.perf_counter()
    result = generate(size=SIZE, seed=SEED, users=False)
    print(f"# generated {SIZE} cooperatives in {time.perf_counter() - started:.1f} s: {result}", flush=True)


def emit(key: str, value: float, unit: str = "") -> None:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"bench: {key} = {text}{' ' + unit if unit else ''}", flush=True)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    index = max(0, round(0.95 * len(ordered)) - 1)
    return ordered[index]


def time_ms(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    from django.db import connection

    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{connection.vendor} {connection.Database.sqlite_version if connection.vendor == 'sqlite' else ''}"
    ).strip()


def median(samples: list[float]) -> float:
    return statistics.median(samples)
