"""`make bench`: run every benchmark against BENCH_SIZE generated cooperatives (default 100,000).

BENCH_SIZE=100000 python -m benchmarks.run            # SQLite under bench-data/
DATABASE_URL=postgres://... python -m benchmarks.run  # PostgreSQL
python -m benchmarks.run registry                     # one benchmark
"""

from __future__ import annotations

import importlib
import sys
import time

from .common import configure, emit, machine, peak_rss_mb, prepare

BENCHMARKS = ["registry", "rating", "import", "detection", "progress"]


def main(argv: list[str]) -> None:
    configure()
    print(f"# machine: {machine()}", flush=True)
    prepare()
    names = argv or BENCHMARKS
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        print(f"# {name}", flush=True)
        module.run()
        print(f"# {name} took {time.perf_counter() - started:.1f} s", flush=True)
    emit("bench_peak_rss_mb", peak_rss_mb(), "MB")


if __name__ == "__main__":
    main(sys.argv[1:])
