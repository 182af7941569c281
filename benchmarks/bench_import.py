"""Bulk import: `bench: import_coops_seconds`, `import_update_seconds`, `import_facts_rows_per_s`,
`import_peak_rss_mb`, `import_speedup_vs_django_import_export`,
`import_update_speedup_vs_django_import_export`, `import_ratio_to_floor` (issue 6).

Generates a 50,000-row cooperatives .xlsx (and the same file with every row changed) and a 200,000-row
yearly-facts .xlsx, then imports them end to end (file, validation, history and all) into an EMPTY
database of its own: a temporary SQLite file, or with DATABASE_URL pointing at PostgreSQL a database it
creates beside it and drops at the end. The registry benchmark's database is not touched.

Each measured step runs in a fresh Python process (so that peak memory is the step's own):
  ours: coops (50,000 new), facts (200,000 new), update (50,000 changed rows);
  floor: python-calamine reads the cells, bulk_create inserts the same rows; no validation, lookups, history;
  django-import-export: the same files into the same models, `import_id_fields = ["credit_code"]`.

django-import-export is not a dependency of the project; install it in the environment to get the two
comparison keys (without it they are skipped with a message):

    .venv/bin/pip install django-import-export==4.4.3

Sizes: BENCH_IMPORT_COOPS (default 50000), BENCH_IMPORT_FACTS (default 200000); BENCH_IMPORT_SKIP_DIE=1
skips the django-import-export runs (several minutes on a loaded machine); BENCH_IMPORT_READER=always or
never forces the reader process of long files on or off (default: as in production, files of 20,000 rows
or more on two cores or more; each step's line gives the reader's CPU seconds and peak memory).
Goals: ≥ 5× faster than django-import-export on both passes, within 3× of the floor, peak memory < 400 MB,
facts ≥ 20,000 rows/s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COOPS = int(os.environ.get("BENCH_IMPORT_COOPS", "50000"))
FACTS = int(os.environ.get("BENCH_IMPORT_FACTS", "200000"))
COOP_HEADERS = [
    "合作社名称",
    "统一社会信用代码",
    "成立日期",
    "注册资本（万元）",
    "法定代表人",
    "联系电话",
    "住所",
    "区县",
    "乡镇（街道）",
    "行业",
    "主要产品",
    "经营状态",
    "绿色食品认证",
]
FACT_HEADERS = [
    "统一社会信用代码",
    "合作社名称",
    "年度",
    "成员数",
    "农民成员数",
    "单位成员数",
    "成员户数",
    "带动非成员农户数",
    "经营收入（万元）",
    "固定资产（万元）",
    "成员出资总额（万元）",
    "可分配盈余（万元）",
    "按交易量返还盈余（万元）",
    "召开成员大会",
    "报送年度报告",
]
INDUSTRIES = ["水果", "蔬菜", "粮油", "茶叶", "畜禽", "水产", "花卉苗木", "林业竹木", "农机服务"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗"
BENCH_USER = "bench-import"
INDUSTRY_CODES = {
    "水果": "fruit",
    "蔬菜": "vegetables",
    "粮油": "grain",
    "茶叶": "tea",
    "畜禽": "livestock",
    "水产": "aquaculture",
    "花卉苗木": "flowers",
    "林业竹木": "forestry",
    "农机服务": "machinery",
}


def emit(key: str, value: float | int, unit: str = "") -> None:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"bench: {key} = {text}{' ' + unit if unit else ''}", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------------
# the files
def towns() -> list[tuple[str, str, str]]:
    """(district code, district name, town name) of every town, from the shipped divisions file."""
    import csv

    path = ROOT / "hezuo" / "geo" / "data" / "ningbo-divisions.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    districts = {r["code"]: r["name"] for r in rows if r["level"] == "district"}
    return [(r["parent_code"], districts[r["parent_code"]], r["name"]) for r in rows if r["level"] == "town"]


def generate(folder: Path) -> None:
    from openpyxl import Workbook

    sys.path.insert(0, str(ROOT))
    from hezuo.registry.creditcode import make_code

    rng = random.Random(2025)
    all_towns = towns()
    coops = []
    for n in range(COOPS):
        district, district_name, town = all_towns[n % len(all_towns)]
        coops.append(
            {
                "name": f"{district_name}{town}第{n}号{rng.choice(INDUSTRIES)}专业合作社",
                "code": make_code(district, f"BM{n:07d}"),
                "registered": dt.date(2005 + n % 15, 1 + n % 12, 1 + n % 28),
                "capital": rng.randint(10, 5000) / 10,
                "person": rng.choice(SURNAMES) + rng.choice(SURNAMES) + "明",
                "phone": f"139{n:08d}",
                "district": district_name,
                "town": town,
                "industry": INDUSTRIES[n % len(INDUSTRIES)],
            }
        )

    def coop_file(path: Path, changed: bool) -> None:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("合作社")
        sheet.append(COOP_HEADERS)
        for n, c in enumerate(coops):
            sheet.append(
                [
                    c["name"],
                    c["code"],
                    c["registered"],
                    c["capital"] + (1 if changed else 0),
                    c["person"],
                    c["phone"],
                    f"{c['town']}{n % 300}号",
                    c["district"],
                    c["town"],
                    c["industry"],
                    "枇杷、杨梅" if not changed else "枇杷、杨梅、柑橘",
                    "正常经营",
                    "是" if n % 7 == 0 else "否",
                ]
            )
        workbook.save(path)

    coop_file(folder / "coops.xlsx", changed=False)
    coop_file(folder / "coops-changed.xlsx", changed=True)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("年度数据")
    sheet.append(FACT_HEADERS)
    years = max(1, FACTS // max(COOPS, 1))
    written = 0
    for year in range(2025 - years, 2025):
        for c in coops:
            if written >= FACTS:
                break
            members = rng.randint(5, 400)
            surplus = rng.randint(0, 50000) / 100
            sheet.append(
                [
                    c["code"],
                    c["name"],
                    year,
                    members,
                    members - rng.randint(0, min(5, members)),
                    rng.randint(0, 3),
                    members - rng.randint(0, 3),
                    rng.randint(0, 2000),
                    rng.randint(0, 900000) / 100,
                    rng.randint(0, 90000) / 100,
                    rng.randint(100, 90000) / 100,
                    surplus,
                    round(surplus * 0.6, 2),
                    "是",
                    "是" if year < 2024 else "否",
                ]
            )
            written += 1
    workbook.save(folder / "facts.xlsx")


# --------------------------------------------------------------------------------------------------
# one step in its own process
def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hezuo.settings")
    os.environ["TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    os.environ["DEBUG"] = "0"  # as in production: no log of every SQL statement
    import django

    django.setup()


def step_setup() -> dict[str, Any]:
    django_setup()
    from django.core.management import call_command

    from hezuo.accounts.models import User

    call_command("setup", verbosity=0)
    User.objects.get_or_create(username=BENCH_USER, defaults={"role": "city"})
    return {}


def server_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend process (0 on SQLite, whose work is
    in this process's own CPU time), from /proc (the server runs on this machine)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def step_ours(path: str) -> dict[str, Any]:
    django_setup()
    from hezuo.accounts.models import User
    from hezuo.transfer.engine import run_import

    user = User.objects.get(username=BENCH_USER)
    kind = "facts" if "facts" in Path(path).name else "cooperatives"
    # the reader process of long files: "auto" as in production (HEZUO_IMPORT_PARALLEL_ROWS), or "always"
    # / "never" to compare the two ways (BENCH_IMPORT_READER)
    reader = os.environ.get("BENCH_IMPORT_READER", "auto")
    if reader == "never":
        from django.conf import settings

        settings.HEZUO_IMPORT_PARALLEL_ROWS = 0
    elif reader == "always":
        from django.conf import settings

        settings.HEZUO_IMPORT_PARALLEL_ROWS = 1
    server = server_cpu()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cpu = time.process_time()
    outcome = run_import(path, kind, user, dry_run=False)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    server = server_cpu() - server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the reader process of a long file (HEZUO_IMPORT_PARALLEL_ROWS): its CPU time and peak memory
    reader_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    if not outcome.written:
        raise SystemExit(f"import failed: {outcome.fatal} {[p.as_dict() for p in outcome.errors[:5]]}")
    return {
        "seconds": seconds,
        "rows": outcome.rows,
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "cpu": cpu,  # this process's CPU seconds (on a loaded machine, less noisy than the wall clock)
        "server_cpu": server,  # the PostgreSQL backend's CPU seconds over the same time (0 on SQLite)
        "reader_cpu": reader_cpu,  # the reader process's CPU seconds (0: the file was read in this process)
        "reader_wait": outcome.reader_wait,  # the seconds this process waited for the reader's rows
        "rss": peak_rss_mb(),
        "reader_rss": after.ru_maxrss / 1024 if reader_cpu else 0.0,  # its peak (shared pages counted too)
    }


def floor_run(path: str, model: Any, make: Any) -> dict[str, Any]:
    """The I/O floor's clocked part: calamine reads the cells, `make` turns a row into an unsaved instance of
    `model`, bulk_create inserts them 2,000 at a time; nothing checked, looked up or recorded."""
    from python_calamine import CalamineWorkbook

    server = server_cpu()
    started = time.perf_counter()
    cpu = time.process_time()
    workbook = CalamineWorkbook.from_path(path)
    rows = workbook.get_sheet_by_index(0).iter_rows()
    next(rows)
    batch = []
    count = 0
    for r in rows:
        batch.append(make(r))
        if len(batch) >= 2000:
            model.objects.bulk_create(batch, batch_size=500)
            count += len(batch)
            batch = []
    model.objects.bulk_create(batch, batch_size=500)
    count += len(batch)
    return {
        "seconds": time.perf_counter() - started,
        "rows": count,
        "cpu": time.process_time() - cpu,
        "server_cpu": server_cpu() - server,
        "rss": peak_rss_mb(),
    }


def step_floor(path: str) -> dict[str, Any]:
    """The I/O floor: calamine reads the cells, bulk_create inserts the rows; nothing checked, looked up or
    recorded (the division ids come from a dict made before the clock starts)."""
    django_setup()
    from decimal import Decimal

    from hezuo.geo.models import Division
    from hezuo.registry.models import Cooperative

    towns_by_name = {d.name: d for d in Division.objects.filter(level="town")}

    def make(r: list[Any]) -> Cooperative:
        town = towns_by_name[r[8]]
        return Cooperative(
            name=r[0],
            credit_code=r[1],
            registration_date=r[2],
            registered_capital=Decimal(repr(r[3])) * 10000,
            legal_representative=r[4],
            phone=str(r[5]),
            address=r[6],
            district_id=town.district_id,
            town=town,
            industry=INDUSTRY_CODES[r[9]],
            main_products=r[10],
            operating_status="operating",
            cert_green=r[12] == "是",
        )

    return floor_run(path, Cooperative, make)


FACT_FIELDS = [  # the facts file's columns from the fourth on, in order
    "members",
    "farmer_members",
    "entity_members",
    "member_households",
    "nonmember_households",
    "revenue",
    "fixed_assets",
    "member_capital",
    "distributable_surplus",
    "surplus_returned",
]


def step_floor_facts(path: str) -> dict[str, Any]:
    """The I/O floor of the facts file: calamine reads the cells, bulk_create inserts the rows (the
    cooperative ids from a dict made before the clock starts); nothing checked or recorded, no history."""
    django_setup()
    from decimal import Decimal

    from hezuo.registry.models import Cooperative, YearlyFact

    coop_ids = dict(Cooperative.objects.values_list("credit_code", "pk"))
    wan = Decimal(10000)

    def make(r: list[Any]) -> YearlyFact:
        values = {name: int(v) for name, v in zip(FACT_FIELDS[:5], r[3:8], strict=True)}
        values.update(
            (name, Decimal(repr(v)) * wan) for name, v in zip(FACT_FIELDS[5:], r[8:13], strict=True)
        )
        return YearlyFact(
            cooperative_id=coop_ids[r[0]],
            year=int(r[2]),
            assembly_held=r[13] == "是",
            annual_report_filed=r[14] == "是",
            **values,
        )

    return floor_run(path, YearlyFact, make)


def step_die(path: str) -> dict[str, Any]:
    """django-import-export: the same file into the same model, rows matched on the credit code."""
    django_setup()
    from decimal import Decimal

    import tablib
    from import_export import fields, resources, widgets

    from hezuo.geo.models import Division
    from hezuo.registry.models import Cooperative

    class WanWidget(widgets.DecimalWidget):
        def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
            number = super().clean(value, row, **kwargs)
            return None if number is None else number * Decimal(10000)

    class ChoiceWidget(widgets.CharWidget):
        def __init__(self, labels: dict[str, str]) -> None:
            super().__init__()
            self.labels = labels

        def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
            return self.labels.get(value, value)

    class BoolWidget(widgets.BooleanWidget):
        def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
            return value == "是"

    class CooperativeResource(resources.ModelResource):
        name = fields.Field("name", column_name="合作社名称")
        credit_code = fields.Field("credit_code", column_name="统一社会信用代码")
        registration_date = fields.Field(
            "registration_date", column_name="成立日期", widget=widgets.DateWidget()
        )
        registered_capital = fields.Field(
            "registered_capital", column_name="注册资本（万元）", widget=WanWidget()
        )
        legal_representative = fields.Field("legal_representative", column_name="法定代表人")
        phone = fields.Field("phone", column_name="联系电话")
        address = fields.Field("address", column_name="住所")
        district = fields.Field(
            "district", column_name="区县", widget=widgets.ForeignKeyWidget(Division, "name")
        )
        town = fields.Field(
            "town", column_name="乡镇（街道）", widget=widgets.ForeignKeyWidget(Division, "name")
        )
        industry = fields.Field("industry", column_name="行业", widget=ChoiceWidget(INDUSTRY_CODES))
        main_products = fields.Field("main_products", column_name="主要产品")
        operating_status = fields.Field(
            "operating_status", column_name="经营状态", widget=ChoiceWidget({"正常经营": "operating"})
        )
        cert_green = fields.Field("cert_green", column_name="绿色食品认证", widget=BoolWidget())

        class Meta:
            model = Cooperative
            import_id_fields = ["credit_code"]
            fields = (
                "name",
                "credit_code",
                "registration_date",
                "registered_capital",
                "legal_representative",
                "phone",
                "address",
                "district",
                "town",
                "industry",
                "main_products",
                "operating_status",
                "cert_green",
            )

    started = time.perf_counter()
    cpu = time.process_time()
    with open(path, "rb") as handle:
        dataset = tablib.Dataset().load(handle, format="xlsx")
    result = CooperativeResource().import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - started
    totals = result.totals
    return {
        "seconds": seconds,
        "rows": len(dataset),
        "created": totals.get("new", 0),
        "updated": totals.get("update", 0),
        "cpu": time.process_time() - cpu,
        "rss": peak_rss_mb(),
    }


STEPS = {
    "setup": step_setup,
    "ours": step_ours,
    "floor": step_floor,
    "floor_facts": step_floor_facts,
    "die": step_die,
}


# --------------------------------------------------------------------------------------------------
# databases of our own
class Databases:
    """Fresh databases for the steps: SQLite files in a temporary folder, or PostgreSQL databases created
    beside the one DATABASE_URL names (and dropped afterwards)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = os.environ.get("DATABASE_URL", "")
        self.postgres = self.base.startswith(("postgres://", "postgresql://"))
        self.created: list[str] = []

    def new(self, name: str) -> str:
        if not self.postgres:
            return f"sqlite:///{self.folder / f'{name}.sqlite3'}"
        import psycopg
        from dj_database_url import parse

        db = f"hezuo_bench_import_{name}_{os.getpid()}"
        config = parse(self.base)
        admin = self.base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
            conn.execute(f'CREATE DATABASE "{db}"')
        self.created.append(db)
        del config
        return self.base.rsplit("/", 1)[0] + f"/{db}"

    def drop(self) -> None:
        if not self.created:
            return
        import psycopg

        admin = self.base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            for db in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}"')


def run_step(step: str, url: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_import", step, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def run() -> None:
    try:
        import import_export  # noqa: F401

        have_die = os.environ.get("BENCH_IMPORT_SKIP_DIE", "") in ("", "0")
    except ImportError:
        have_die = False
    with tempfile.TemporaryDirectory(prefix="hezuo-bench-import-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        generate(folder)
        print(
            f"# generated {COOPS} cooperatives and {FACTS} facts rows "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        dbs = Databases(folder)
        try:
            ours = dbs.new("ours")
            run_step("setup", ours)
            coops = run_step("ours", ours, str(folder / "coops.xlsx"))
            print(f"# ours, cooperatives: {coops}", flush=True)
            facts = run_step("ours", ours, str(folder / "facts.xlsx"))
            print(f"# ours, facts: {facts}", flush=True)
            update = run_step("ours", ours, str(folder / "coops-changed.xlsx"))
            print(f"# ours, update: {update}", flush=True)
            assert coops["created"] == COOPS and update["updated"] == COOPS, (coops, update)
            floor_db = dbs.new("floor")
            run_step("setup", floor_db)
            floor = run_step("floor", floor_db, str(folder / "coops.xlsx"))
            print(f"# floor: {floor}", flush=True)
            # the facts file's floor, into the floor's cooperatives: calamine and bulk_create, no checks
            # or history (our import writes a change record per row on top)
            floor_facts = run_step("floor_facts", floor_db, str(folder / "facts.xlsx"))
            print(
                f"# floor, facts: {floor_facts}; {floor_facts['rows'] / floor_facts['seconds']:,.0f} rows/s "
                f"(ours {facts['rows'] / facts['seconds']:,.0f}; reader process CPU "
                f"{facts.get('reader_cpu', 0):.1f} s, waited for {facts.get('reader_wait', 0):.1f} s)",
                flush=True,
            )
            emit("import_coops_seconds", coops["seconds"], "s")
            emit("import_update_seconds", update["seconds"], "s")
            emit("import_facts_rows_per_s", facts["rows"] / facts["seconds"], "rows/s")
            emit("import_peak_rss_mb", max(coops["rss"], facts["rss"], update["rss"]), "MB")
            if have_die:
                die_db = dbs.new("die")
                run_step("setup", die_db)
                die_new = run_step("die", die_db, str(folder / "coops.xlsx"))
                print(f"# django-import-export, new: {die_new}", flush=True)
                die_update = run_step("die", die_db, str(folder / "coops-changed.xlsx"))
                print(f"# django-import-export, update: {die_update}", flush=True)
                emit("import_speedup_vs_django_import_export", die_new["seconds"] / coops["seconds"])
                emit(
                    "import_update_speedup_vs_django_import_export", die_update["seconds"] / update["seconds"]
                )
            else:
                print(
                    "# skipped import_speedup_vs_django_import_export and import_update_speedup_vs_django_"
                    "import_export: django-import-export is not installed "
                    "(.venv/bin/pip install django-import-export==4.4.3) or BENCH_IMPORT_SKIP_DIE is set",
                    flush=True,
                )
            emit("import_ratio_to_floor", coops["seconds"] / floor["seconds"])
            # on a shared machine the wall clock measures the neighbours too: the same figures on this
            # process's CPU time (the database server's work is not in it on PostgreSQL)
            print(
                f"# cpu seconds: coops {coops['cpu']:.1f}, facts {facts['cpu']:.1f} "
                f"({facts['rows'] / max(facts['cpu'], 1e-9):,.0f} rows per CPU second), "
                f"update {update['cpu']:.1f}, floor {floor['cpu']:.1f}; "
                f"ratio to floor on CPU time {coops['cpu'] / max(floor['cpu'], 1e-9):.2f}",
                flush=True,
            )
            if dbs.postgres:
                both = {
                    k: v["cpu"] + v["server_cpu"]
                    for k, v in (("coops", coops), ("facts", facts), ("update", update), ("floor", floor))
                }
                print(
                    f"# cpu seconds with the PostgreSQL backend's: coops {both['coops']:.1f}, facts "
                    f"{both['facts']:.1f} ({facts['rows'] / max(both['facts'], 1e-9):,.0f} rows per CPU "
                    f"second), update {both['update']:.1f}, floor {both['floor']:.1f}; ratio to floor "
                    f"{both['coops'] / max(both['floor'], 1e-9):.2f}",
                    flush=True,
                )
        finally:
            dbs.drop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        result = STEPS[sys.argv[1]](*sys.argv[2:])
        print("RESULT " + json.dumps(result), flush=True)
    else:
        sys.path.insert(0, str(ROOT))
        run()
