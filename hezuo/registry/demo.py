"""The seeded, deterministic demo city: cooperatives, their yearly facts, titles, federation memberships,
sponsorships, the system's organisations and the demo users.

`generate(size, seed)` fills the database with a city like the one whose divisions are loaded (Ningbo by
default, about 3,800 cooperatives over its districts, towns and villages). The same seed and size give the
same names, codes and facts on every machine and database: there is one `random.Random(seed)`, divisions
are read in code order, and nothing depends on database ids. Only "today" (dates are clamped so that nothing
lies in the future) may change the result.

Cooperatives are generated and written in batches (a few thousand at a time, each with its children and
its change history), so memory stays bounded at benchmark sizes (100,000 and more).

Nothing here is specific to one city: district specialties are a data table keyed by district code, with a
generic fallback, so another city's divisions generate as well.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, reset_queries, transaction
from django.utils import timezone

from hezuo.accounts.models import CounselorAssignment, User
from hezuo.accounts.roles import Role
from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import record_bulk
from hezuo.geo.models import Division

from .choices import (
    FederationLevel,
    Industry,
    OperatingStatus,
    OrganizationKind,
    SponsorshipKind,
    SponsorshipMode,
    TitleLevel,
)
from .creditcode import CHARSET, make_code
from .models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)

BATCH_SIZE = 2000  # cooperatives generated and written at a time
DEFAULT_SIZE = 3800
DEFAULT_SEED = 2025
DEFAULT_YEARS = (2022, 2023, 2024, 2025)

# fixed reference points (results must not depend on the day they are generated, except clamping)
FIRST_REGISTRATION = dt.date(2007, 7, 1)  # the Farmer Professional Cooperatives Law took effect
LAST_REGISTRATION_YEAR = 2024
FIRST_TITLE_YEAR, LAST_TITLE_YEAR = 2010, 2025
FIRST_SPONSOR_YEAR, LAST_SPONSOR_YEAR = 2012, 2025
FIRST_FEDERATION_YEAR, LAST_FEDERATION_YEAR = 2016, 2025  # 农合联 were set up from 2015-2016

# ---------------------------------------------------------------------------------------------------------
# Data tables
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """A line of business: how it shows in a cooperative's name and record."""

    industry: str
    label: str  # as in the name: 水蜜桃 → 奉化区溪口镇水蜜桃专业合作社
    products: str  # main products
    activity: str = ""  # optional word before 专业合作社: 种植, 养殖
    gi: bool = False  # a geographical-indication product of the district


G, V, F = Industry.GRAIN, Industry.VEGETABLES, Industry.FRUIT
VEG = Product(V, "蔬菜", "时令蔬菜、叶菜、瓜果", "种植")
FRUIT_VEG = Product(V, "果蔬", "蔬菜、瓜果")
RICE = Product(G, "水稻", "水稻、优质大米", "种植")
TEA = Product(Industry.TEA, "茶叶", "绿茶、红茶")
FLOWERS = Product(Industry.FLOWERS, "花卉苗木", "花卉、绿化苗木")
BAMBOO = Product(Industry.FORESTRY, "竹笋", "毛笋、雷笋、笋干")
GRAPE = Product(F, "葡萄", "葡萄", "种植")
STRAWBERRY = Product(F, "草莓", "草莓", "种植")
CITRUS = Product(F, "柑橘", "红美人、春香、椪柑", "种植")
LOQUAT = Product(F, "白枇杷", "白枇杷", "种植")
BAYBERRY = Product(F, "杨梅", "杨梅、杨梅干", "种植")
RAZOR_CLAM = Product(Industry.AQUACULTURE, "蛏子", "缢蛏", "养殖")
LAVER = Product(Industry.AQUACULTURE, "紫菜", "坛紫菜", "养殖")
MARICULTURE = Product(Industry.AQUACULTURE, "海水", "大黄鱼、梭子蟹、青蟹", "养殖")

# weights per district code; every district also gets COMMON_PRODUCTS
DISTRICT_PRODUCTS: dict[str, list[tuple[float, Product]]] = {
    "330203": [  # 海曙区
        (10, RICE),
        (8, Product(Industry.TEA, "茶叶", "它山堰茶、绿茶")),
        (8, VEG),
        (8, FLOWERS),
        (4, Product(Industry.OTHER, "浙贝母", "浙贝母", "种植", gi=True)),
        (4, STRAWBERRY),
        (3, BAMBOO),
    ],
    "330205": [  # 江北区
        (12, VEG),
        (6, GRAPE),
        (4, STRAWBERRY),
        (6, FRUIT_VEG),
        (5, RICE),
        (4, FLOWERS),
        (3, Product(F, "水果", "桃、梨、葡萄", "种植")),
    ],
    "330206": [  # 北仑区
        (10, VEG),
        (10, FLOWERS),
        (4, Product(Industry.FLOWERS, "杜鹃花", "杜鹃、盆景")),
        (4, GRAPE),
        (3, TEA),
        (3, MARICULTURE),
        (2, Product(F, "水蜜桃", "水蜜桃", "种植")),
    ],
    "330211": [  # 镇海区
        (12, VEG),
        (8, FLOWERS),
        (5, GRAPE),
        (5, RICE),
        (2, STRAWBERRY),
        (3, FRUIT_VEG),
    ],
    "330212": [  # 鄞州区
        (12, VEG),
        (10, RICE),
        (5, Product(V, "雪菜", "雪菜、咸齑", "种植", gi=True)),
        (3, Product(F, "樱桃", "樱桃", "种植")),
        (3, TEA),
        (3, GRAPE),
        (4, FLOWERS),
        (2, BAMBOO),
    ],
    "330213": [  # 奉化区
        (14, Product(F, "水蜜桃", "水蜜桃、黄桃", "种植", gi=True)),
        (8, Product(Industry.FORESTRY, "竹笋", "雷笋、毛笋、笋干")),
        (5, STRAWBERRY),
        (4, Product(V, "芋艿", "芋艿头", "种植", gi=True)),
        (3, Product(Industry.TEA, "茶叶", "曲毫茶")),
        (4, FLOWERS),
        (4, VEG),
        (4, RICE),
    ],
    "330225": [  # 象山县
        (14, Product(F, "柑橘", "红美人、象山红、春香", "种植", gi=True)),
        (3, LOQUAT),
        (4, LAVER),
        (4, RAZOR_CLAM),
        (5, MARICULTURE),
        (3, BAMBOO),
        (4, VEG),
        (3, RICE),
    ],
    "330226": [  # 宁海县
        (8, Product(F, "白枇杷", "白枇杷", "种植", gi=True)),
        (8, CITRUS),
        (6, Product(Industry.AQUACULTURE, "蛏子", "长街蛏子", "养殖", gi=True)),
        (2, LAVER),
        (5, Product(Industry.TEA, "茶叶", "望海茶")),
        (5, BAMBOO),
        (4, VEG),
        (3, RICE),
        (2, BAYBERRY),
    ],
    "330281": [  # 余姚市
        (12, Product(F, "杨梅", "杨梅、杨梅酒", "种植", gi=True)),
        (8, VEG),
        (4, Product(V, "榨菜", "榨菜", "种植", gi=True)),
        (5, Product(Industry.TEA, "茶叶", "瀑布仙茗")),
        (4, BAMBOO),
        (3, GRAPE),
        (4, FLOWERS),
        (4, RICE),
        (2, Product(Industry.AQUACULTURE, "甲鱼", "中华鳖", "养殖")),
    ],
    "330282": [  # 慈溪市
        (10, Product(F, "杨梅", "杨梅", "种植", gi=True)),
        (12, VEG),
        (6, FRUIT_VEG),
        (4, GRAPE),
        (3, Product(F, "蜜梨", "翠冠梨", "种植")),
        (4, RICE),
        (3, FLOWERS),
        (3, Product(V, "西兰花", "西兰花、花菜", "种植")),
    ],
}

# a district with no row above (another city's divisions) generates from this table
GENERIC_PRODUCTS: list[tuple[float, Product]] = [
    (10, VEG),
    (6, FRUIT_VEG),
    (6, Product(F, "水果", "时令水果", "种植")),
    (8, RICE),
    (4, TEA),
    (3, FLOWERS),
    (2, BAMBOO),
]

# in every district (farm machinery was about 9 % of Ningbo's cooperatives)
COMMON_PRODUCTS: list[tuple[float, Product]] = [
    (5, Product(Industry.MACHINERY, "农机服务", "机耕、机插、机收、烘干服务")),
    (3, Product(Industry.MACHINERY, "农机", "农机作业、粮食烘干")),
    (1.2, Product(Industry.PLANT_PROTECTION, "植保", "病虫害统防统治、无人机飞防")),
    (0.8, Product(Industry.PLANT_PROTECTION, "植保服务", "统防统治、农药集中配送")),
    (3, Product(G, "粮油", "水稻、小麦、油菜")),
    (1.5, Product(Industry.LIVESTOCK, "生猪", "生猪", "养殖")),
    (2, Product(Industry.LIVESTOCK, "家禽", "鸡、鸭、鹅", "养殖")),
    (1, Product(Industry.LIVESTOCK, "养蜂", "蜂蜜、蜂王浆")),
    (0.5, Product(Industry.LIVESTOCK, "湖羊", "湖羊", "养殖")),
    (1, Product(Industry.AQUACULTURE, "甲鱼", "中华鳖", "养殖")),
    (1.5, Product(Industry.AQUACULTURE, "南美白对虾", "南美白对虾", "养殖")),
    (1.5, Product(Industry.AQUACULTURE, "水产", "淡水鱼、虾", "养殖")),
    (1.5, Product(Industry.OTHER, "食用菌", "香菇、平菇、秀珍菇", "种植")),
    (1, Product(Industry.OTHER, "中药材", "铁皮石斛、浙贝母", "种植")),
]

# abbreviations used in document numbers, keyed by province (2 digits) and city code; fallbacks are generic
PROVINCE_ABBREVIATIONS = {"33": "浙"}
CITY_ABBREVIATIONS = {"330200": "甬"}

BRAND_FIRST = "绿金丰春新兴富康盛鑫宏华阳青翠源山溪田禾惠和润嘉顺泰祥瑞隆民裕乐安永聚益天明福"
BRAND_SECOND = "源丰园野农田谷禾苑乡盛达康润林果香茂鑫泰宇山湖川峰庄邦旺鸿森美佳缘"

SURNAMES = (
    "王" * 10
    + "陈" * 10
    + "张" * 6
    + "李" * 6
    + "林" * 5
    + "徐" * 5
    + "周" * 5
    + "吴" * 5
    + "胡" * 4
    + "杨" * 4
    + "黄" * 4
    + "朱" * 4
    + "孙" * 3
    + "俞" * 3
    + "应" * 3
    + "叶" * 3
    + "邵" * 3
    + "蒋" * 3
    + "金" * 3
    + "毛" * 2
    + "袁" * 2
    + "邬" * 2
    + "竺" * 1
    + "史" * 2
    + "严" * 2
    + "沈" * 3
    + "方" * 2
    + "郑" * 3
    + "何" * 2
    + "马" * 2
    + "赵" * 2
    + "葛" * 1
    + "励" * 1
    + "娄" * 1
    + "施" * 2
    + "裘" * 1
)
GIVEN_CHARS = "国建伟明海华平军永兴文芳丽英红杰斌波勇强忠良峰刚林东志春秀美静亚玲燕辉霞云飞龙祥德松荣宏"

MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "157",
    "158",
    "159",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
)

# operating status: probabilities for cooperatives without a title (titled ones nearly all operate);
# overall about 4 % suspended, 6 % dormant, 4 % shell, 2 % revoked, 1 % deregistered
STATUS_UNTITLED = [
    (0.048, OperatingStatus.SUSPENDED),
    (0.072, OperatingStatus.DORMANT),
    (0.048, OperatingStatus.SHELL),
    (0.024, OperatingStatus.REVOKED),
    (0.012, OperatingStatus.DEREGISTERED),
]
ABNORMAL_RATE = {
    OperatingStatus.OPERATING: 0.018,
    OperatingStatus.SUSPENDED: 0.15,
    OperatingStatus.DORMANT: 0.35,
    OperatingStatus.SHELL: 0.5,
    OperatingStatus.REVOKED: 0.6,
    OperatingStatus.DEREGISTERED: 0.1,
}

# Highest-title tiers per 3,780 cooperatives. A cooperative usually also holds the titles below its highest
# one, so the titles per level come out like Ningbo's (end of 2020): 29 national, 65 provincial and 169 city
# demonstration cooperatives, a dozen national SMC-system ones and several hundred county standardised ones.
TIER_RATES = {
    "national": 29 / 3780,
    "provincial": 39 / 3780,  # + 90 % of the national ones ≈ 65 provincial titles
    "smc": 12 / 3780,
    "city": 98 / 3780,  # + most national, provincial and SMC-system ones ≈ 169 city titles
    "county": 0.12,
}
NONE_TIER = "none"

SPONSOR_RATE = {"national": 0.8, "provincial": 0.7, "smc": 1.0, "city": 0.6, "county": 0.38, NONE_TIER: 0.13}
FEDERATION_RATE = {
    "national": 0.9,
    "provincial": 0.85,
    "smc": 0.9,
    "city": 0.6,
    "county": 0.38,
    NONE_TIER: 0.13,
}
SPONSOR_END_REASONS = ("合作期满", "合作社注销", "股权退出", "经营不善终止合作", "调整领办主体")
FEDERATION_END_REASONS = ("合作社注销", "主动退出", "清理退出", "经营停止")
DEMO_USER_COUNT = 20  # coop-<n>
COUNSELORS_PER_DISTRICT = 3


# ---------------------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """How many rows of each kind the generator wrote."""

    organizations: int = 0
    cooperatives: int = 0
    yearly_facts: int = 0
    titles: int = 0
    memberships: int = 0
    sponsorships: int = 0
    users: int = 0
    assignments: int = 0
    changes: int = 0
    seconds: float = 0.0
    member_households: dict[int, int] = field(default_factory=dict)  # per year, over the generated facts

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


def _cumulative(weights: Iterable[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


class _Weighted:
    """A fixed weighted choice (bisect over cumulative weights: fast and deterministic)."""

    def __init__(self, items: Sequence[tuple[float, object]]) -> None:
        self.values = [v for _, v in items]
        self.cum = _cumulative(w for w, _ in items)

    def pick(self, rng: random.Random):  # type: ignore[no-untyped-def]
        return rng.choices(self.values, cum_weights=self.cum)[0]


class _Quota:
    """Draw categories so that exactly `counts[c]` of `total` draws give c (sequential hypergeometric)."""

    def __init__(self, counts: dict[str, int], total: int, rest: str) -> None:
        self.left = dict(counts)
        self.remaining = total
        self.rest = rest

    def draw(self, rng: random.Random) -> str:
        r = rng.randrange(self.remaining) if self.remaining > 0 else 0
        self.remaining -= 1
        for key, left in self.left.items():
            if r < left:
                self.left[key] -= 1
                return key
            r -= left
        return self.rest


def _money(value: float) -> Decimal:
    return Decimal(f"{max(value, 0.0):.2f}")


def _signed_money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _date_in(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _short_village(name: str) -> str:
    """澄浪社区 → 澄浪社区, 剡岙村委会 → 剡岙村, 石碶村村委会 → 石碶村, 环河居民委员会 → 环河社区."""
    for suffix, repl in (
        ("村村民委员会", "村"),
        ("村民委员会", "村"),
        ("村村委会", "村"),
        ("村委会", "村"),
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
    ):
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def _village_weight(name: str) -> float:
    """Cooperatives lie in villages far more than in urban communities."""
    if "生活区" in name or "农场" in name or "林场" in name:
        return 0.3
    if "社区" in name or "居委" in name or "居民" in name:
        return 0.4
    return 3.0


def _town_weight(name: str) -> float:
    if name.endswith(("镇", "乡")):
        return 3.0
    if name.endswith("街道"):
        return 1.0
    return 0.2  # development zones and the like


# ---------------------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _District:
    division: Division
    city: Division | None
    towns: list[Division]
    villages: _Weighted | None  # of Division
    town_picker: _Weighted  # of Division, for cooperatives without a village
    products: _Weighted  # of Product
    place_names: tuple[str, ...]  # name prefixes: 海曙区, 宁波市海曙区
    grassroots: list[Organization] = field(default_factory=list)
    district_smc: Organization | None = None
    enterprises: list[Organization] = field(default_factory=list)
    federation: Organization | None = None
    town_federations: dict[int, Organization] = field(default_factory=dict)  # town id → 农合联


@dataclass
class _Batch:
    coops: list[Cooperative] = field(default_factory=list)
    facts: list[YearlyFact] = field(default_factory=list)
    titles: list[DemonstrationTitle] = field(default_factory=list)
    memberships: list[FederationMembership] = field(default_factory=list)
    sponsorships: list[Sponsorship] = field(default_factory=list)


class _Generator:
    def __init__(self, size: int, seed: int, years: Sequence[int], today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.today = today
        self.years = sorted(y for y in years if y <= today.year)
        self.result = DemoResult()
        self.used_names: set[str] = set()
        self.existing_codes: set[str] = set()
        self.brands = [a + b for a in BRAND_FIRST for b in BRAND_SECOND if a != b]
        # two bijective sequences of credit-code bodies: MA… (registered from 2016) and old organisation codes
        rng = self.rng
        self.code_space_new = len(CHARSET) ** 6
        self.code_space_old = 10**8
        self.code_mult_new = rng.randrange(1, self.code_space_new // 31) * 31 + rng.randrange(1, 31)
        self.code_mult_old = rng.randrange(1, 10**7) * 10 + rng.choice((1, 3, 7, 9))
        self.code_add_new = rng.randrange(self.code_space_new)
        self.code_add_old = rng.randrange(self.code_space_old)
        self.code_counter_new = 0
        self.code_counter_old = 0

    # ---- setup -------------------------------------------------------------------------------------------

    def load_divisions(self) -> list[_District]:
        districts = list(
            Division.objects.filter(level=Division.Level.DISTRICT).select_related("parent").order_by("code")
        )
        if not districts:
            raise RuntimeError("No divisions are loaded: run `hezuo setup` (or load_divisions) first.")
        towns: dict[int, list[Division]] = {d.pk: [] for d in districts}
        for town in Division.objects.filter(level=Division.Level.TOWN).order_by("code"):
            if town.district_id in towns:
                towns[town.district_id].append(town)
        town_by_id = {t.pk: t for ts in towns.values() for t in ts}
        villages: dict[int, list[Division]] = {d.pk: [] for d in districts}
        for village in Division.objects.filter(level=Division.Level.VILLAGE).order_by("code"):
            parent = town_by_id.get(village.parent_id or 0)
            if parent is None or parent.district_id is None:
                continue
            village.parent = parent  # attach (no query later)
            villages[parent.district_id].append(village)
        out = []
        for d in districts:
            d.district = d
            for t in towns[d.pk]:
                t.district = d
            vs = villages[d.pk]
            if not towns[d.pk]:
                continue  # a district without towns cannot hold cooperatives
            city = d.parent if d.parent is not None and d.parent.level == Division.Level.CITY else None
            places: tuple[str, ...] = (d.name,)
            if city is not None and d.name.endswith("区"):
                places = (d.name, d.name, city.name + d.name)
            table = DISTRICT_PRODUCTS.get(d.code, GENERIC_PRODUCTS) + COMMON_PRODUCTS
            out.append(
                _District(
                    division=d,
                    city=city,
                    towns=towns[d.pk],
                    villages=_Weighted([(_village_weight(v.name), v) for v in vs]) if vs else None,
                    town_picker=_Weighted([(_town_weight(t.name), t) for t in towns[d.pk]]),
                    products=_Weighted(table),
                    place_names=places,
                )
            )
        return out

    def allocate(self, districts: list[_District]) -> list[int]:
        """Cooperatives per district, in proportion to their villages (largest remainder)."""
        weights = [max(len(d.villages.values) if d.villages else 0, len(d.towns)) for d in districts]
        total = sum(weights) or 1
        exact = [self.size * w / total for w in weights]
        counts = [math.floor(x) for x in exact]
        order = sorted(range(len(districts)), key=lambda i: (-(exact[i] - counts[i]), i))
        for i in order[: self.size - sum(counts)]:
            counts[i] += 1
        return counts

    def make_organizations(self, districts: list[_District]) -> None:
        """The system's units: reused when they already exist (matched by kind, name and district)."""
        rng = self.rng
        existing = {
            (o.kind, o.name, o.district_id): o for o in Organization.objects.filter(retired_at__isnull=True)
        }
        created: list[Organization] = []

        def get(kind: str, name: str, district: Division | None, parent: Organization | None) -> Organization:
            key = (kind, name, district.pk if district else None)
            org = existing.get(key)
            if org is None:
                org = Organization(kind=kind, name=name, district=district, parent=parent)
                org.save()
                existing[key] = org
                created.append(org)
            return org

        city = districts[0].city
        city_name = city.name if city is not None else ""
        city_smc = get(OrganizationKind.CITY_SMC, f"{city_name}供销合作社", None, None)
        city_fed = get(OrganizationKind.FEDERATION_CITY, f"{city_name}农民合作经济组织联合会", None, None)
        self.city_federation = city_fed
        self.city_enterprises = [
            get(OrganizationKind.SMC_ENTERPRISE, f"{city_name}供销农业发展有限公司", None, city_smc),
            get(OrganizationKind.SMC_ENTERPRISE, f"{city_name}供销农产品流通有限公司", None, city_smc),
        ]
        for d in districts:
            div = d.division
            d.district_smc = get(OrganizationKind.DISTRICT_SMC, f"{div.name}供销合作社", div, city_smc)
            d.federation = get(
                OrganizationKind.FEDERATION_DISTRICT, f"{div.name}农民合作经济组织联合会", div, city_fed
            )
            rural = [t for t in d.towns if _town_weight(t.name) >= 3] or d.towns
            for town in sorted(rng.sample(rural, min(len(rural), rng.randint(2, 4))), key=lambda t: t.code):
                d.grassroots.append(
                    get(
                        OrganizationKind.GRASSROOTS_SMC,
                        f"{div.name}{town.name}供销合作社",
                        div,
                        d.district_smc,
                    )
                )
            # town federations: in rural towns where there are enough, never in development zones
            pool = rural if len(rural) >= 3 else [t for t in d.towns if _town_weight(t.name) >= 1] or d.towns
            for town in sorted(rng.sample(pool, min(len(pool), rng.randint(3, 5))), key=lambda t: t.code):
                d.town_federations[town.pk] = get(
                    OrganizationKind.FEDERATION_TOWN,
                    f"{div.name}{town.name}农民合作经济组织联合会",
                    div,
                    d.federation,
                )
            if rng.random() < 0.5:
                d.enterprises.append(
                    get(OrganizationKind.SMC_ENTERPRISE, f"{div.name}供销农资有限公司", div, d.district_smc)
                )
        self.result.organizations = len(created)
        record_bulk(created, ChangeRecord.Action.CREATE)
        self.result.changes += len(created)

    # ---- one cooperative ---------------------------------------------------------------------------------

    def person_name(self) -> str:
        rng = self.rng
        given = rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.7 else "")
        return rng.choice(SURNAMES) + given

    def phone(self) -> str:
        rng = self.rng
        return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"

    def credit_code(self, region: str, registered: dt.date) -> str:
        while True:
            if registered.year >= 2016:
                n = (self.code_counter_new * self.code_mult_new + self.code_add_new) % self.code_space_new
                self.code_counter_new += 1
                chars = []
                for _ in range(6):
                    n, r = divmod(n, len(CHARSET))
                    chars.append(CHARSET[r])
                body = "MA2" + "".join(chars)
            else:
                n = (self.code_counter_old * self.code_mult_old + self.code_add_old) % self.code_space_old
                self.code_counter_old += 1
                body = "5" + f"{n:08d}"
            code = make_code(region, body)
            if code not in self.existing_codes:
                return code

    def name(
        self, d: _District, product: Product, town: Division, village: Division | None, union: bool
    ) -> str:
        """A unique, plausible name: 宁海县岔路镇白枇杷专业合作社, 慈溪市绿源果蔬专业合作社, …"""
        rng = self.rng
        # a village shows in a name only when it is a village (村), not an urban community
        hamlet = _short_village(village.name) if village is not None else ""
        hamlet = hamlet if hamlet.endswith("村") else ""
        for attempt in range(200):
            place = rng.choice(d.place_names)
            activity = product.activity if product.activity and rng.random() < 0.35 else ""
            label = product.label + activity
            pattern = rng.random()
            if union:  # a union of cooperatives works at town or district level
                where = town.name if pattern < 0.5 else ""
                brand = rng.choice(self.brands) if attempt >= 2 or pattern >= 0.8 else ""
                name = f"{place}{where}{brand}{label}专业合作社联合社"
            elif attempt >= 20:  # crowded: combine a brand with the town or village
                where = hamlet if hamlet and rng.random() < 0.5 else town.name
                name = f"{place}{where}{rng.choice(self.brands)}{label}专业合作社"
            elif pattern < 0.32:
                name = f"{place}{town.name}{label}专业合作社"
            elif pattern < 0.70 or not hamlet:
                name = f"{place}{rng.choice(self.brands)}{label}专业合作社"
            elif pattern < 0.88:
                name = f"{place}{town.name}{hamlet}{label}专业合作社"
            else:
                name = f"{place}{hamlet}{label}专业合作社"
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        raise RuntimeError("could not find a unique cooperative name")  # pragma: no cover

    def registration_date(self, tier: str) -> dt.date:
        rng = self.rng
        last = {"national": 2016, "provincial": 2017, "smc": 2018, "city": 2019, "county": 2022}.get(
            tier, LAST_REGISTRATION_YEAR
        )
        years = list(range(FIRST_REGISTRATION.year, last + 1))
        # registrations peaked around 2012-2015
        weights = [max(0.8, 10 - abs(y - 2013) * 1.1) for y in years]
        year = rng.choices(years, weights)[0]
        start = max(dt.date(year, 1, 1), FIRST_REGISTRATION)
        return min(_date_in(rng, start, dt.date(year, 12, 31)), self.today)

    def cooperative(self, d: _District, tier: str, batch: _Batch) -> None:
        rng = self.rng
        village = d.villages.pick(rng) if d.villages is not None and rng.random() < 0.95 else None
        town = village.parent if village is not None else d.town_picker.pick(rng)
        product: Product = d.products.pick(rng)
        registered = self.registration_date(tier)

        status = OperatingStatus.OPERATING
        if tier == NONE_TIER:
            r = rng.random()
            for p, s in STATUS_UNTITLED:
                if r < p:
                    status = s
                    break
                r -= p
        elif rng.random() < 0.02:
            status = rng.choice((OperatingStatus.SUSPENDED, OperatingStatus.DORMANT))
        # size class: many small, some medium, a few large; titled ones larger
        size_weights = {
            "national": (0, 0.2, 0.8),
            "provincial": (0, 0.5, 0.5),
            "smc": (0, 0.6, 0.4),
            "city": (0.2, 0.6, 0.2),
            "county": (0.6, 0.37, 0.03),
            NONE_TIER: (0.92, 0.07, 0.01),
        }[tier]
        size_class = rng.choices((0, 1, 2), size_weights)[0]
        if status in (OperatingStatus.SHELL, OperatingStatus.REVOKED, OperatingStatus.DEREGISTERED):
            size_class = 0
        quality = {
            "national": 0.92,
            "provincial": 0.88,
            "smc": 0.88,
            "city": 0.82,
            "county": 0.72,
            NONE_TIER: 0.55,
        }[tier] + rng.uniform(-0.12, 0.08)
        if status != OperatingStatus.OPERATING:
            quality -= 0.3
        quality = min(max(quality, 0.05), 0.99)
        union = status == OperatingStatus.OPERATING and size_class >= 1 and rng.random() < 0.012

        # the year operation stopped (dormant, suspended, revoked, deregistered); shells never really operated
        stop_year = None
        suspended_since = None
        if status in (
            OperatingStatus.DORMANT,
            OperatingStatus.SUSPENDED,
            OperatingStatus.REVOKED,
            OperatingStatus.DEREGISTERED,
        ):
            stop_year = rng.randint(max(registered.year + 1, 2019), max(registered.year + 1, 2024))
            stop_year = min(stop_year, self.today.year)
            if status == OperatingStatus.SUSPENDED:
                suspended_since = min(
                    _date_in(rng, dt.date(stop_year, 1, 1), dt.date(stop_year, 12, 31)), self.today
                )
                suspended_since = max(suspended_since, registered)
        on_abnormal = rng.random() < ABNORMAL_RATE[status]
        abnormal_on = None
        if on_abnormal:
            abnormal_on = _date_in(
                rng, max(registered + dt.timedelta(days=365), dt.date(2019, 1, 1)), dt.date(2025, 12, 31)
            )
            abnormal_on = min(abnormal_on, self.today)
        bad = status in (OperatingStatus.SHELL, OperatingStatus.REVOKED)
        serious = rng.random() < (0.03 if bad else 0.001)
        illegal_finance = rng.random() < (0.01 if bad else 0.0008)
        subsidy_fraud = rng.random() < (0.01 if bad else 0.0005)

        capital_choices = ((10, 20, 30, 50, 100, 200), (50, 100, 200, 300, 500), (200, 500, 1000, 2000, 3000))
        registered_capital = rng.choice(capital_choices[size_class]) * 10000
        where = d.division.name + town.name + (_short_village(village.name) if village is not None else "")
        address = where + (f"{rng.randint(1, 300)}号" if rng.random() < 0.7 else "")
        brand_rate = (0.12, 0.35, 0.7)[size_class] + (0.2 if tier != NONE_TIER else 0)
        coop = Cooperative(
            name=self.name(d, product, town, village, union),
            credit_code=self.credit_code(d.division.code, registered),
            registration_date=registered,
            registered_capital=_money(registered_capital),
            legal_representative=self.person_name(),
            phone=self.phone(),
            address=address,
            district=d.division,
            town=town,
            village=village,
            industry=product.industry,
            main_products=product.products,
            brands=f"{rng.choice(self.brands)}" if rng.random() < brand_rate else "",
            cert_green=rng.random() < 0.05 + 0.15 * size_class + (0.1 if tier != NONE_TIER else 0),
            cert_organic=rng.random() < 0.01 + 0.04 * size_class,
            cert_geographic=product.gi and rng.random() < 0.15 + 0.25 * size_class,
            has_traceability=rng.random() < 0.15 + 0.3 * quality + 0.1 * size_class,
            operating_status=status,
            suspended_since=suspended_since,
            on_abnormal_list=on_abnormal,
            abnormal_listed_on=abnormal_on,
            serious_violation=serious,
            illegal_finance=illegal_finance,
            subsidy_fraud=subsidy_fraud,
        )
        coop.refresh_search_text()
        batch.coops.append(coop)

        self.facts(coop, batch, size_class, quality, status, stop_year)
        self.titles(coop, batch, tier, status, stop_year)
        sponsored_rate = SPONSOR_RATE[tier] * (1.0 + 0.6 * size_class)
        if rng.random() < sponsored_rate:
            self.sponsorship(coop, d, batch, status, stop_year, tier)
        if rng.random() < FEDERATION_RATE[tier] * (1.0 + 0.4 * size_class):
            self.membership(coop, d, town, batch, status, stop_year, size_class)

    # ---- yearly facts ------------------------------------------------------------------------------------

    def facts(
        self,
        coop: Cooperative,
        batch: _Batch,
        size_class: int,
        quality: float,
        status: str,
        stop_year: int | None,
    ) -> None:
        rng = self.rng
        today = self.today
        reg_year = coop.registration_date.year
        shell = status == OperatingStatus.SHELL
        gone = status in (OperatingStatus.REVOKED, OperatingStatus.DEREGISTERED)
        if size_class == 0:
            base_members = 5 + min(int(rng.expovariate(1 / 3.5)), 25)
        elif size_class == 1:
            base_members = int(math.exp(rng.uniform(math.log(30), math.log(90))))
        else:
            base_members = int(min(math.exp(rng.gauss(math.log(180), 0.55)), 1500))
            base_members = max(base_members, 100)
        if shell:
            base_members = rng.randint(5, 8)
        revenue_median = (2.2e5, 1.6e6, 9e6)[size_class]
        base_revenue = math.exp(rng.gauss(math.log(revenue_median), 0.9 if size_class < 2 else 0.75))
        growth = rng.gauss(0.03, 0.06)
        entity = 0 if base_members <= 5 else rng.choices((0, 1, 2), (0.7, 0.2, 0.1))[0]
        if base_members <= 20:
            entity = min(entity, 1)  # the law: at most one entity member in a cooperative of 20 or fewer
        nonfarmer = 0 if rng.random() < 0.7 else rng.randint(0, max(0, base_members // 10))
        skip_rate = 0.04 if quality > 0.7 else 0.1
        capital_share = rng.uniform(0.3, 1.0)
        households_by_year = self.result.member_households
        for year in self.years:
            if year < reg_year:
                continue
            if gone and stop_year is not None and year >= stop_year:
                break
            if rng.random() < skip_rate:
                continue  # not reported this year
            idle = shell or (stop_year is not None and year >= stop_year)
            t = year - self.years[0]
            members = max(5, round(base_members * (1 + growth) ** t * rng.uniform(0.97, 1.03)))
            if idle:
                members = max(5, min(members, base_members))
            ent = min(entity, members)
            farmers = max(0, members - ent - min(nonfarmer, members - ent))
            if farmers < 0.8 * members and rng.random() < 0.9:  # the law asks for at least 80 % farmers
                farmers = min(members - ent, math.ceil(0.8 * members))
            households = max(
                1, members - ent - (rng.randint(0, max(0, members // 20)) if members > 20 else 0)
            )
            households_by_year[year] = households_by_year.get(year, 0) + households
            if idle:
                revenue = 0.0
                nonmember_hh = 0
            else:
                revenue = base_revenue * (1 + growth) ** t * rng.uniform(0.85, 1.15)
                scale = (40, 400, 2500)[size_class]
                nonmember_hh = min(3000, int(rng.paretovariate(1.6) * scale * 0.4) - int(scale * 0.4))
                nonmember_hh = max(0, nonmember_hh)
            fixed_assets = base_revenue * rng.uniform(0.15, 0.9) * (0.3 if shell else 1.0)
            member_capital = float(coop.registered_capital or 0) * capital_share
            fact = YearlyFact(cooperative=coop, year=year)
            fact.members = members
            fact.farmer_members = farmers
            fact.entity_members = ent
            fact.member_households = households
            fact.nonmember_households = nonmember_hh
            fact.revenue = _money(revenue)
            fact.fixed_assets = _money(fixed_assets)
            fact.member_capital = _money(member_capital)
            if idle:
                fact.distributable_surplus = Decimal("0.00")
                fact.surplus_returned = Decimal("0.00")
                fact.member_transactions = Decimal("0.00")
                fact.nonmember_transactions = Decimal("0.00")
            else:
                margin = rng.gauss(0.05 + 0.04 * quality, 0.05)
                surplus = revenue * margin
                fact.distributable_surplus = _signed_money(surplus)
                if surplus > 0:
                    share = rng.uniform(0.6, 0.9) if rng.random() < quality else rng.uniform(0.0, 0.6)
                    fact.surplus_returned = min(_money(surplus * share), fact.distributable_surplus)
                else:
                    fact.surplus_returned = Decimal("0.00")
                    fact.loss_plan_approved = rng.random() < quality
                member_share = rng.uniform(0.45, 0.95)
                fact.member_transactions = _money(revenue * member_share)
                fact.nonmember_transactions = _money(revenue * (1 - member_share))
                if rng.random() < 0.8:
                    fact.unified_purchase_rate = Decimal(
                        f"{min(100.0, rng.gauss(40 + 50 * quality, 12)):.2f}"
                    )
                    fact.unified_sale_rate = Decimal(f"{min(100.0, rng.gauss(35 + 55 * quality, 12)):.2f}")
                    fact.unified_purchase_rate = max(fact.unified_purchase_rate, Decimal("0.00"))
                    fact.unified_sale_rate = max(fact.unified_sale_rate, Decimal("0.00"))
                if rng.random() < 0.7:
                    fact.income_uplift = Decimal(f"{rng.gauss(5 + 25 * quality, 8):.2f}")
            fact.members_trained = int(members * rng.uniform(0, 1.2 * quality)) if not idle else 0
            fact.public_admin_member = rng.random() < 0.015
            fact.subsidy_received = rng.random() < 0.1 + 0.4 * quality * (0 if idle else 1)
            fact.subsidy_quantified = (rng.random() < quality) if fact.subsidy_received else None
            fact.extra_votes = 0 if rng.random() < 0.75 else rng.randint(0, max(0, members // 5))
            # governance: the good mostly yes; some fields left empty ("not reported")
            missing = 0.5 if rng.random() < (0.08 if quality > 0.7 else 0.2) else 0.0

            def yes(p: float, missing: float = missing) -> bool | None:
                if missing and rng.random() < missing:
                    return None
                return rng.random() < p

            if idle:
                fact.assembly_held = False
                fact.assembly_quorum_met = None
                fact.minutes_signed = None
            else:
                fact.assembly_held = yes(0.35 + 0.6 * quality)
                if fact.assembly_held:
                    month = rng.choices(range(1, 13), (5, 4, 4, 2, 1, 1, 1, 1, 1, 1, 1, 3))[0]
                    day = rng.randint(1, 28)
                    assembly = dt.date(year, month, day)
                    fact.assembly_date = assembly if assembly <= today else None
                    fact.assembly_quorum_met = yes(0.5 + 0.5 * quality)
                    fact.minutes_signed = yes(0.4 + 0.55 * quality)
            fact.organs_in_place = yes(0.5 + 0.5 * quality) if not shell else rng.random() < 0.3
            fact.officer_conflict = yes(0.03 + 0.1 * (1 - quality))
            fact.member_register_filed = yes(0.4 + 0.55 * quality)
            fact.members_with_accounts = (
                (members if rng.random() < quality else int(members * rng.uniform(0, 0.9)))
                if not shell
                else 0
            )
            fact.accounting_compliant = yes(0.3 + 0.65 * quality) if not idle else rng.random() < 0.2
            fact.separate_accounts = yes(0.25 + 0.65 * quality) if not idle else None
            fact.financial_statements = yes(0.4 + 0.58 * quality) if not idle else rng.random() < 0.3
            fact.documents_available = yes(0.3 + 0.6 * quality) if not idle else None
            fact.reserve_quantified = yes(0.2 + 0.6 * quality) if not idle else None
            fact.internal_audit = yes(0.25 + 0.6 * quality) if not idle else None
            # the annual report of a year is filed in the first half of the next (a few late, some never)
            filed = rng.random() < (0.55 if idle else 0.6 + 0.4 * quality)
            if coop.on_abnormal_list and year >= (coop.abnormal_listed_on or today).year - 1:
                filed = rng.random() < 0.2
            if filed:
                late = rng.random() < 0.08
                start = dt.date(year + 1, 7 if late else 1, 1)
                end = dt.date(year + 1, 12 if late else 6, 28 if late else 30)
                report = _date_in(rng, start, end)
                if report <= today:
                    fact.annual_report_filed = True
                    fact.annual_report_date = report
                else:
                    fact.annual_report_filed = None  # not due yet
            else:
                fact.annual_report_filed = False
            batch.facts.append(fact)

    # ---- titles, sponsorships, memberships ---------------------------------------------------------------

    def titles(self, coop: Cooperative, batch: _Batch, tier: str, status: str, stop_year: int | None) -> None:
        if tier == NONE_TIER:
            return
        rng = self.rng
        last_year = min(LAST_TITLE_YEAR, self.today.year)
        first = max(FIRST_TITLE_YEAR, coop.registration_date.year + 1)
        if first > last_year:
            return
        chains = {
            "national": [
                (TitleLevel.COUNTY_STANDARD, 0.75),
                (TitleLevel.CITY_DEMO, 0.9),
                (TitleLevel.PROVINCIAL_DEMO, 0.9),
                (TitleLevel.NATIONAL_DEMO, 1.0),
            ],
            "provincial": [
                (TitleLevel.COUNTY_STANDARD, 0.75),
                (TitleLevel.CITY_DEMO, 0.9),
                (TitleLevel.PROVINCIAL_DEMO, 1.0),
            ],
            "smc": [
                (TitleLevel.COUNTY_STANDARD, 0.8),
                (TitleLevel.CITY_DEMO, 0.8),
                (TitleLevel.NATIONAL_SMC_DEMO, 1.0),
            ],
            "city": [(TitleLevel.COUNTY_STANDARD, 0.8), (TitleLevel.CITY_DEMO, 1.0)],
            "county": [(TitleLevel.COUNTY_STANDARD, 1.0)],
        }[tier]
        steps = len(chains)
        # start early enough for the chain to fit before the last title year
        latest_start = max(first, last_year - 2 * (steps - 1))
        year = rng.randint(first, max(first, min(latest_start, first + 6)))
        city = coop.district.parent
        city_code = city.code if city is not None else ""
        province = PROVINCE_ABBREVIATIONS.get(coop.district.code[:2], "省")
        city_abbr = CITY_ABBREVIATIONS.get(city_code, city.name[:1] if city is not None else "市")
        district_abbr = coop.district.name[:1]
        for level, p in chains:
            if rng.random() < p:
                revoked = None
                if stop_year is not None and status != OperatingStatus.OPERATING:
                    revoked = max(year, min(stop_year, last_year))
                elif rng.random() < 0.03 and year + 2 <= last_year:
                    revoked = rng.randint(year + 2, last_year)
                doc = {
                    TitleLevel.COUNTY_STANDARD: f"{district_abbr}农〔{year}〕{rng.randint(5, 90)}号",
                    TitleLevel.CITY_DEMO: f"{city_abbr}农发〔{year}〕{rng.randint(5, 120)}号",
                    TitleLevel.PROVINCIAL_DEMO: f"{province}农经发〔{year}〕{rng.randint(3, 40)}号",
                    TitleLevel.NATIONAL_DEMO: f"农经发〔{year}〕{rng.randint(1, 12)}号",
                    TitleLevel.NATIONAL_SMC_DEMO: f"供销经字〔{year}〕{rng.randint(1, 60)}号",
                }[level]
                batch.titles.append(
                    DemonstrationTitle(
                        cooperative=coop,
                        level=level,
                        year_granted=year,
                        year_revoked=revoked,
                        document=doc if rng.random() < 0.85 else "",
                    )
                )
            year = min(last_year, year + rng.randint(1, 3))

    def _period(
        self,
        coop: Cooperative,
        first_year: int,
        last_year: int,
        status: str,
        stop_year: int | None,
        end_rate: float,
    ) -> tuple[dt.date, dt.date | None] | None:
        """A start date (not before registration) and maybe an end date, both not in the future."""
        rng = self.rng
        start_floor = max(coop.registration_date, dt.date(first_year, 1, 1))
        end_ceiling = min(dt.date(last_year, 12, 31), self.today)
        stop = stop_year if status != OperatingStatus.OPERATING else None
        if stop is not None:
            end_ceiling = min(end_ceiling, dt.date(stop, 12, 31))
        if start_floor > end_ceiling:
            return None
        start = _date_in(rng, start_floor, end_ceiling)
        end = None
        if stop is not None:
            end = _date_in(rng, max(start, dt.date(stop, 1, 1)), end_ceiling)
        elif rng.random() < end_rate and start + dt.timedelta(days=200) < end_ceiling:
            end = _date_in(rng, start + dt.timedelta(days=200), end_ceiling)
        return start, end

    def sponsorship(
        self, coop: Cooperative, d: _District, batch: _Batch, status: str, stop_year: int | None, tier: str
    ) -> None:
        rng = self.rng
        founding = rng.random() < 0.1 and coop.registration_date.year >= FIRST_SPONSOR_YEAR
        if founding:
            period: tuple[dt.date, dt.date | None] | None = (coop.registration_date, None)
            if status != OperatingStatus.OPERATING and stop_year is not None:
                period = self._period(
                    coop, coop.registration_date.year, coop.registration_date.year, status, stop_year, 0
                )
        else:
            period = self._period(coop, FIRST_SPONSOR_YEAR, LAST_SPONSOR_YEAR, status, stop_year, 0.1)
        if period is None:
            return
        start, end = period
        r = rng.random()
        sponsor_pool: list[Organization]
        if r < 0.6 and d.grassroots:
            sponsor_pool = d.grassroots
        elif r < 0.85 or not (d.enterprises or self.city_enterprises):
            sponsor_pool = [d.district_smc] if d.district_smc is not None else d.grassroots
        else:
            sponsor_pool = d.enterprises + self.city_enterprises
        sponsor = rng.choice(sponsor_pool)
        if founding:
            mode, kind = SponsorshipMode.FOUNDING, SponsorshipKind.LEAD
        else:
            mode = rng.choices(
                (SponsorshipMode.EQUITY, SponsorshipMode.RESOURCES, SponsorshipMode.SERVICES),
                (0.38, 0.28, 0.34),
            )[0]
            kind = (
                SponsorshipKind.LEAD
                if rng.random() < (0.45 if tier != NONE_TIER else 0.25)
                else (SponsorshipKind.PARTICIPATE)
            )
        equity = None
        if mode == SponsorshipMode.EQUITY:
            equity = _money(rng.choice((5, 10, 20, 30, 50, 100, 200)) * 10000)
        batch.sponsorships.append(
            Sponsorship(
                cooperative=coop,
                kind=kind,
                mode=mode,
                sponsor=sponsor,
                equity_amount=equity,
                start_date=start,
                end_date=end,
                end_reason=rng.choice(SPONSOR_END_REASONS) if end else "",
            )
        )

    def membership(
        self,
        coop: Cooperative,
        d: _District,
        town: Division,
        batch: _Batch,
        status: str,
        stop_year: int | None,
        size_class: int,
    ) -> None:
        rng = self.rng
        r = rng.random()
        town_fed = d.town_federations.get(town.pk)
        federation: Organization | None
        if r < 0.12 and town_fed is not None:
            level, federation = FederationLevel.TOWN, town_fed
        elif r < 0.12 + 0.05 * (1 + size_class):
            level, federation = FederationLevel.CITY, self.city_federation
        else:
            level, federation = FederationLevel.DISTRICT, d.federation
        period = self._period(coop, FIRST_FEDERATION_YEAR, LAST_FEDERATION_YEAR, status, stop_year, 0.06)
        if period is None:
            return
        start, end = period
        batch.memberships.append(
            FederationMembership(
                cooperative=coop,
                level=level,
                federation=federation,
                since=start,
                until=end,
                end_reason=rng.choice(FEDERATION_END_REASONS) if end else "",
            )
        )

    # ---- writing -----------------------------------------------------------------------------------------

    def write(self, batch: _Batch) -> None:
        Cooperative.objects.bulk_create(batch.coops, batch_size=500)
        if batch.coops and batch.coops[0].pk is None:  # pragma: no cover - very old SQLite
            raise RuntimeError("the database did not return the ids of bulk-inserted rows")
        children: list[tuple[type[models.Model], list]] = [
            (YearlyFact, batch.facts),
            (DemonstrationTitle, batch.titles),
            (FederationMembership, batch.memberships),
            (Sponsorship, batch.sponsorships),
        ]
        for model, objs in children:
            # bulk_create copies the cooperatives' new ids into the children and keeps the cached
            # cooperative (assigning cooperative_id by hand would drop it, and the history would query)
            model._default_manager.bulk_create(objs, batch_size=500)
        changes = record_bulk(batch.coops, ChangeRecord.Action.CREATE)
        for _model, objs in children:
            changes += record_bulk(objs, ChangeRecord.Action.CREATE)
        reset_queries()  # under DEBUG the connection keeps the SQL of every query: let it go
        r = self.result
        r.cooperatives += len(batch.coops)
        r.yearly_facts += len(batch.facts)
        r.titles += len(batch.titles)
        r.memberships += len(batch.memberships)
        r.sponsorships += len(batch.sponsorships)
        r.changes += changes

    def run(self, progress: Callable[[int, int], None] | None) -> None:
        if Cooperative.objects.exists():
            # adding to an existing registry: stay clear of the codes and names already in it
            for code, name in Cooperative.objects.values_list("credit_code", "name").iterator(
                chunk_size=5000
            ):
                self.existing_codes.add(code)
                self.used_names.add(name)
        districts = self.load_divisions()
        self.make_organizations(districts)
        counts = self.allocate(districts)
        tiers = _Quota({k: round(self.size * rate) for k, rate in TIER_RATES.items()}, self.size, NONE_TIER)
        batch = _Batch()
        done = 0
        for d, count in zip(districts, counts, strict=True):
            for _ in range(count):
                self.cooperative(d, tiers.draw(self.rng), batch)
                if len(batch.coops) >= BATCH_SIZE:
                    self.write(batch)
                    done += len(batch.coops)
                    batch = _Batch()
                    if progress is not None:
                        progress(done, self.size)
        if batch.coops:
            self.write(batch)
            done += len(batch.coops)
            if progress is not None:
                progress(done, self.size)


# ---------------------------------------------------------------------------------------------------------
# Demo users
# ---------------------------------------------------------------------------------------------------------


def demo_logins() -> list[tuple[str, str]]:
    """(username, description) of the demo users that exist, in a stable order."""
    users = User.objects.filter(
        models.Q(username__in=["city", "viewer"])
        | models.Q(username__startswith="district-")
        | models.Q(username__startswith="counselor-")
        | models.Q(username__startswith="coop-")
    ).select_related("district", "cooperative")

    def key(u: User) -> tuple:
        parts = u.username.split("-")
        order = {"city": 0, "viewer": 1, "district": 2, "counselor": 3, "coop": 4}.get(parts[0], 9)
        return (order, *[int(p) if p.isdigit() else p for p in parts[1:]])

    out = []
    for u in sorted(users, key=key):
        where = u.cooperative.name if u.cooperative else (u.district.name if u.district else "")
        out.append((u.username, f"{u.get_role_display()}{' · ' + where if where else ''}"))
    return out


def ensure_demo_users(seed: int = DEFAULT_SEED, password: str | None = None) -> tuple[int, int]:
    """Create the demo users that are missing (existing ones are left alone); returns (users, assignments).

    Counselors get 15-40 cooperatives of their district each, cooperative users one cooperative each,
    chosen deterministically from the seed (cooperatives in credit-code order, never by database id).
    """
    rng = random.Random(f"{seed}:users")
    password = password if password is not None else settings.HEZUO_DEMO_PASSWORD
    districts = list(Division.objects.filter(level=Division.Level.DISTRICT).order_by("code"))
    existing = set(User.objects.values_list("username", flat=True))
    new_users: list[User] = []

    def add(username: str, role: str, **fields: object) -> User | None:
        surname = rng.choice(SURNAMES)
        given = rng.choice(GIVEN_CHARS) + rng.choice(GIVEN_CHARS)
        if username in existing:
            return None
        user = User(username=username, role=role, last_name=surname, first_name=given, **fields)
        new_users.append(user)
        return user

    add("city", Role.CITY)
    add("viewer", Role.VIEWER)
    for d in districts:
        add(f"district-{d.code}", Role.DISTRICT, district=d)
    # cooperatives per district, operating ones with yearly facts first, in credit-code order
    coops = Cooperative.objects.filter(
        retired_at__isnull=True, operating_status=OperatingStatus.OPERATING
    ).values_list("credit_code", "pk", "district_id")
    by_district: dict[int, list[tuple[str, int]]] = {}
    for code, pk, district_id in coops.iterator(chunk_size=5000):
        by_district.setdefault(district_id, []).append((code, pk))
    linked = set(User.objects.filter(cooperative__isnull=False).values_list("cooperative_id", flat=True))
    plans: list[tuple[User, list[int]]] = []
    for d in districts:
        pool = [pk for _, pk in sorted(by_district.get(d.pk, []))]
        rng.shuffle(pool)
        offset = 0
        for n in range(1, COUNSELORS_PER_DISTRICT + 1):
            k = min(rng.randint(15, 40), max(1, len(pool) // COUNSELORS_PER_DISTRICT))
            share = pool[offset : offset + k]
            offset += k
            user = add(f"counselor-{d.code}-{n}", Role.COUNSELOR, district=d)
            if user is not None:
                plans.append((user, share))
    # cooperative users: spread over the districts in turn
    candidates = {
        d.pk: [pk for _, pk in sorted(by_district.get(d.pk, [])) if pk not in linked] for d in districts
    }
    for pool in candidates.values():
        rng.shuffle(pool)
    n = 0
    rounds = 0
    coop_objects = {}
    while n < DEMO_USER_COUNT and any(candidates.values()) and rounds < DEMO_USER_COUNT:
        rounds += 1
        for d in districts:
            pool = candidates[d.pk]
            if n >= DEMO_USER_COUNT or not pool:
                continue
            n += 1
            coop_objects[f"coop-{n}"] = pool.pop()
    if coop_objects:
        coop_by_pk = Cooperative.objects.in_bulk(list(coop_objects.values()))
        for username, pk in coop_objects.items():
            add(username, Role.COOPERATIVE, cooperative=coop_by_pk[pk])
    if not new_users:
        return 0, 0
    hashed = make_password(password)  # one hash for all: hashing is slow by design
    for user in new_users:
        user.password = hashed
    with transaction.atomic(), change_context(source="demo", reason="demo city"):
        User.objects.bulk_create(new_users)
        record_bulk(new_users, ChangeRecord.Action.CREATE)
        start = dt.date(2024, 1, 1)
        assignments = []
        all_pks = [pk for _, share in plans for pk in share]
        coop_by_pk = Cooperative.objects.select_related("district").in_bulk(all_pks)
        for user, share in plans:
            for pk in share:
                assignments.append(
                    CounselorAssignment(counselor=user, cooperative=coop_by_pk[pk], start_date=start)
                )
        CounselorAssignment.objects.bulk_create(assignments, batch_size=500)
        record_bulk(assignments, ChangeRecord.Action.CREATE)
    return len(new_users), len(assignments)


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


def generate(
    size: int = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    *,
    years: Sequence[int] = DEFAULT_YEARS,
    users: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Generate a demo city of `size` cooperatives (see the module docstring); returns the counts written.

    `progress(done, total)` is called after each batch of cooperatives is written.
    """
    if size < 0:
        raise ValueError("size must not be negative")
    started = time.monotonic()
    gen = _Generator(size, seed, years, timezone.localdate())
    with transaction.atomic(), change_context(source="demo", reason="demo city"):
        gen.run(progress)
        if users:
            gen.result.users, gen.result.assignments = ensure_demo_users(seed)
            gen.result.changes += gen.result.users + gen.result.assignments
    gen.result.seconds = round(time.monotonic() - started, 2)
    # fresh statistics, so the query planner uses the indexes on the new rows (lists, filters, search)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return gen.result
