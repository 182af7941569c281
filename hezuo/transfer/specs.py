"""What each kind of file holds: its columns, their headers (Chinese, English and the usual variants),
units, allowed values and which are required. Templates, exports, the notes sheet and the importer all
read these declarations, so that what is exported re-imports unchanged.

The Chinese headers and the Chinese names of allowed values are the file format people exchange with the
market regulator, the agriculture bureau and the districts: they are data, not interface text, and stay
Chinese whatever the interface language. English headers (the field names and their English labels) are
recognised too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from hezuo.registry.choices import (
    FederationLevel,
    Industry,
    OperatingStatus,
    SponsorshipKind,
    SponsorshipMode,
    TitleLevel,
)
from hezuo.registry.models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Sponsorship,
    YearlyFact,
)

from .values import PERCENT, WAN, YUAN, normalize

# column types
TEXT, DATE, MONEY, DECIMAL, INTEGER, YEAR, BOOL, CHOICE, DIVISION, CODE, ORGANIZATION = (
    "text",
    "date",
    "money",
    "decimal",
    "integer",
    "year",
    "bool",
    "choice",
    "division",
    "code",
    "organization",
)
# pseudo columns: not a field of the model
DIVISION_PATH = "division"  # a division path or code that fills district, town and village
COOPERATIVE_NAME = (
    "cooperative_name"  # the cooperative's name beside its code in child files (checked, not written)
)

# Chinese names of the allowed values (the first is written in exports; all are recognised)
CHOICE_ZH: dict[type[models.TextChoices], dict[str, tuple[str, ...]]] = {
    Industry: {
        "grain": ("粮油", "粮食", "粮油作物", "种粮"),
        "vegetables": ("蔬菜", "果蔬"),
        "fruit": ("水果", "果业", "林果"),
        "tea": ("茶叶", "茶"),
        "flowers": ("花卉苗木", "花卉", "苗木"),
        "forestry": ("林业竹木", "林业", "竹木", "竹笋"),
        "livestock": ("畜禽", "畜牧", "畜禽养殖", "养殖"),
        "aquaculture": ("水产", "渔业", "水产养殖"),
        "machinery": ("农机服务", "农机"),
        "plant_protection": ("植保服务", "植保"),
        "other": ("其他", "其它"),
    },
    OperatingStatus: {
        "operating": ("正常经营", "正常", "存续", "在业", "开业"),
        "suspended": ("歇业",),
        "dormant": ("休眠", "休眠社"),
        "shell": ("空壳", "空壳社"),
        "revoked": ("吊销", "已吊销", "吊销营业执照"),
        "deregistered": ("注销", "已注销"),
    },
    TitleLevel: {
        "county": ("县级规范社", "规范社", "区县级规范社", "县级"),
        "city": ("市级示范社", "市级"),
        "provincial": ("省级示范社", "省级"),
        "national": ("国家级示范社", "国家级", "国家示范社"),
        "national_smc": ("全国供销总社示范社", "总社示范社", "供销总社示范社"),
    },
    FederationLevel: {
        "city": ("市级农合联", "市级", "市农合联"),
        "district": ("区县农合联", "区县级", "县级", "区级", "县级农合联"),
        "town": ("乡镇农合联", "乡镇级", "镇级", "乡镇"),
    },
    SponsorshipKind: {
        "lead": ("领办",),
        "participate": ("参办",),
    },
    SponsorshipMode: {
        "equity": ("出资入股", "入股", "出资"),
        "resources": ("资源对接",),
        "services": ("服务配给/服务带动", "服务配给", "服务带动", "服务"),
        "founding": ("引导创办", "创办"),
    },
}


@dataclass(frozen=True)
class Column:
    key: str  # the model field it fills, or a pseudo column (DIVISION_PATH, COOPERATIVE_NAME)
    header: str  # the Chinese header written in templates and exports (without its unit)
    type: str
    aliases: tuple[str, ...] = ()  # other headers recognised, Chinese and English
    required: bool = False
    unit: str | None = None  # the default unit: WAN for money, PERCENT for rates
    choices: Any = None  # a TextChoices class
    level: str = ""  # for division columns: district, town or village
    help: Any = ""  # what the notes sheet says about the column
    export: bool = True  # written in templates and exports

    @property
    def field(self) -> str:
        return self.key

    @property
    def title(self) -> str:
        """The header as written: with its unit."""
        if self.unit == WAN:
            return f"{self.header}（万元）"
        if self.unit == YUAN:
            return f"{self.header}（元）"
        if self.unit == PERCENT:
            return f"{self.header}（%）"
        return self.header

    def names(self) -> set[str]:
        """Every header text that means this column (normalized, unit removed)."""
        names = {self.header, self.key, self.key.replace("_", " "), *self.aliases}
        return {split_header(n)[0] for n in names}

    def choice_labels(self) -> dict[str, str]:
        """Recognised label (normalized) -> code."""
        assert self.choices is not None
        labels: dict[str, str] = {}
        for code, label in self.choices.choices:
            labels[normalize(code)] = code
            for lang in ("en", "zh-hans"):
                with translation.override(lang):
                    labels[normalize(str(label))] = code
            for zh in CHOICE_ZH.get(self.choices, {}).get(code, ()):
                labels[normalize(zh)] = code
        return labels

    def choice_zh(self, code: str) -> str:
        assert self.choices is not None
        names = CHOICE_ZH.get(self.choices, {}).get(code)
        return names[0] if names else code

    def allowed_values(self) -> str:
        if self.choices is None:
            return ""
        return "；".join(f"{self.choice_zh(code)}（{code}）" for code in self.choices.values)


_UNIT_SUFFIX = re.compile(r"^(?P<base>.+?)[(\[]?(?P<unit>万元|元|%)[)\]]?$")
_OTHER_SUFFIX = re.compile(r"^(?P<base>.+?)\((?:人|户|个|次|人次|年|yyyy-mm-dd|是/否|是否)\)$")


def split_header(text: str) -> tuple[str, str | None]:
    """A header's normalized name and the unit it states: "注册资本（万元）" -> ("注册资本", WAN)."""
    name = normalize(str(text)).replace("*", "").replace("※", "")
    unit = None
    match = _UNIT_SUFFIX.match(name)
    if match and match["base"]:
        name, unit = match["base"], {"万元": WAN, "元": YUAN, "%": PERCENT}[match["unit"]]
    other = _OTHER_SUFFIX.match(name)
    if other:
        name = other["base"]
    return name.rstrip("(:："), unit


@dataclass
class Kind:
    """One kind of file: cooperatives, yearly facts, titles, federation memberships or sponsorships."""

    name: str
    label: Promise
    model: type[models.Model]
    columns: list[Column]
    key: tuple[str, ...]  # the columns that identify a record (an existing record is updated)
    sheet_title: str
    child: bool = False  # a record under a cooperative, found by the cooperative's credit code
    _lookup: dict[str, Column] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for column in self.columns:
            for name in column.names():
                existing = self._lookup.get(name)
                assert existing is None or existing is column, (self.name, name)
                self._lookup[name] = column

    @property
    def export_columns(self) -> list[Column]:
        return [c for c in self.columns if c.export]

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def match(self, header: Any) -> tuple[Column | None, str | None]:
        """The column a header means and the unit it states (None when it means nothing we know)."""
        if header is None or not str(header).strip():
            return None, None
        name, unit = split_header(str(header))
        column = self._lookup.get(name)
        if column is None:
            return None, None
        if column.type != MONEY:
            return column, column.unit
        return column, unit or column.unit

    def verbose(self, column: Column) -> str:
        if column.key in (DIVISION_PATH, COOPERATIVE_NAME):
            return column.header
        try:
            model_field: Any = self.model._meta.get_field(column.key)
            return str(model_field.verbose_name)
        except Exception:
            return column.header


def fingerprint(kind: str, headers: Iterable[Any]) -> str:
    """Identifies a file layout: the kind and its headers in order (normalized)."""
    text = "|".join(normalize(str(h)) if h not in (None, "") else "" for h in headers).rstrip("|")
    return hashlib.sha256(f"{kind}:{text}".encode()).hexdigest()[:40]


# ---------------------------------------------------------------------------------------------------
CREDIT_CODE = Column(
    "credit_code",
    "统一社会信用代码",
    CODE,
    aliases=(
        "信用代码",
        "社会信用代码",
        "统一信用代码",
        "统一代码",
        "信用代码证号",
        "营业执照号",
        "注册号",
        "credit code",
        "unified social credit code",
        "credit_code",
        "code",
    ),
    required=True,
    help=_("18 characters (GB 32100-2015); identifies the cooperative."),
)
COOP_NAME_INFO = Column(
    COOPERATIVE_NAME,
    "合作社名称",
    TEXT,
    aliases=("名称", "单位名称", "合作社", "企业名称", "主体名称", "cooperative", "name"),
    help=_(
        "For reading only: checked against the registered name (a difference is a warning), never changed."
    ),
)


def _money(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(
        key,
        header,
        MONEY,
        aliases=aliases,
        unit=WAN,
        help=kw.pop("help", _("Money in 10,000 yuan (万元); a header ending in （元） means yuan.")),
        **kw,
    )


def _bool(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(
        key,
        header,
        BOOL,
        aliases=aliases,
        help=kw.pop("help", _("是 or 否 (also 有/无, Y/N, 1/0); empty means not reported.")),
        **kw,
    )


def _int(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(
        key,
        header,
        INTEGER,
        aliases=aliases,
        help=kw.pop("help", _("A whole number; empty means not reported, never zero.")),
        **kw,
    )


def _date(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(
        key,
        header,
        DATE,
        aliases=aliases,
        help=kw.pop("help", _("A date: 2023-05-01, 2023/5/1, 2023年5月1日 or an Excel date.")),
        **kw,
    )


COOPERATIVES = Kind(
    name="cooperatives",
    label=_("Cooperatives"),
    model=Cooperative,
    sheet_title="合作社",
    key=("credit_code",),
    columns=[
        Column(
            "name",
            "合作社名称",
            TEXT,
            aliases=("名称", "单位名称", "合作社", "企业名称", "主体名称", "社名"),
            required=True,
            help=_("The registered name."),
        ),
        CREDIT_CODE,
        _date(
            "registration_date",
            "成立日期",
            "登记日期",
            "注册日期",
            "成立时间",
            "设立日期",
            "registered on",
            required=True,
        ),
        _money("registered_capital", "注册资本", "出资总额", "注册资金", "成员出资总额(登记)"),
        Column(
            "legal_representative",
            "法定代表人",
            TEXT,
            aliases=("法人代表", "法人", "法定代表人姓名", "理事长", "负责人", "legal representative"),
        ),
        Column(
            "phone",
            "联系电话",
            TEXT,
            aliases=("电话", "手机", "手机号码", "联系方式", "法人电话"),
            help=_("An 11-digit mobile number or a landline such as 0574-87654321."),
        ),
        Column("address", "住所", TEXT, aliases=("地址", "注册地址", "住所地", "经营场所", "通讯地址")),
        Column(
            "district",
            "区县",
            DIVISION,
            level="district",
            aliases=("区县(市)", "县(市、区)", "县市区", "区(县、市)", "所属区县", "所在区县", "区县市"),
            required=True,
            help=_("A district's name (宁海县) or code (330226)."),
        ),
        Column(
            "town",
            "乡镇（街道）",
            DIVISION,
            level="town",
            aliases=(
                "乡镇",
                "镇街",
                "街道",
                "乡镇街道",
                "乡镇(街道)",
                "所属乡镇",
                "所在乡镇",
                "镇(乡、街道)",
            ),
            required=True,
            help=_("A town's name (跃龙街道), path (宁海县 跃龙街道) or code (330226001)."),
        ),
        Column(
            "village",
            "村（社区）",
            DIVISION,
            level="village",
            aliases=("村", "社区", "行政村", "村社区", "村(社区)", "所在村"),
            help=_("A village's name, path or 12-digit code; may be empty."),
        ),
        Column(
            DIVISION_PATH,
            "行政区划",
            DIVISION,
            export=False,
            aliases=(
                "所在地",
                "所在地区",
                "所属地区",
                "区划",
                "区划代码",
                "行政区划代码",
                "所在区划",
                "division",
            ),
            help=_("Instead of the three columns above: a path (宁海县 跃龙街道) or a code (330226001)."),
        ),
        Column(
            "industry",
            "行业",
            CHOICE,
            choices=Industry,
            aliases=("产业", "产业类型", "主营行业", "所属行业", "行业类别", "产业类别"),
            required=True,
        ),
        Column("main_products", "主要产品", TEXT, aliases=("主营产品", "主导产品", "产品")),
        Column("brands", "注册商标", TEXT, aliases=("商标", "品牌", "注册品牌")),
        _bool("cert_green", "绿色食品认证", "绿色食品", "绿色认证"),
        _bool("cert_organic", "有机认证", "有机产品认证", "有机食品认证", "有机"),
        _bool("cert_geographic", "地理标志", "地理标志认证", "农产品地理标志"),
        _bool("has_traceability", "生产记录和质量追溯", "质量追溯", "可追溯", "生产记录"),
        Column(
            "operating_status",
            "经营状态",
            CHOICE,
            choices=OperatingStatus,
            aliases=("经营状况", "状态", "登记状态", "运营状态"),
            help=_("Empty means operating."),
        ),
        _date("suspended_since", "歇业日期", "歇业时间"),
        _bool("on_abnormal_list", "列入经营异常名录", "经营异常名录", "异常名录", "是否列入经营异常名录"),
        _date("abnormal_listed_on", "列入异常名录日期", "列入经营异常名录日期", "列异日期"),
        _bool("serious_violation", "严重违法失信名单", "严重违法", "列入严重违法失信名单"),
        _bool("illegal_finance", "非法金融活动", "从事非法金融活动"),
        _bool("subsidy_fraud", "骗取补贴", "骗取财政补助"),
        Column("note", "备注", TEXT, aliases=("说明", "note", "notes")),
    ],
)


def _child_columns(*columns: Column) -> list[Column]:
    return [CREDIT_CODE, COOP_NAME_INFO, *columns]


FACTS = Kind(
    name="facts",
    label=_("Yearly facts"),
    model=YearlyFact,
    sheet_title="年度数据",
    key=("credit_code", "year"),
    child=True,
    columns=_child_columns(
        Column(
            "year",
            "年度",
            YEAR,
            aliases=("年份", "报告年度", "统计年度", "fiscal year"),
            required=True,
            help=_("The fiscal year, such as 2024; one row per cooperative and year."),
        ),
        _int("members", "成员数", "成员总数", "社员数", "成员人数"),
        _int("farmer_members", "农民成员数", "其中农民成员", "农民社员数", "其中:农民成员数"),
        _int("entity_members", "单位成员数", "企业事业单位社会组织成员数", "其中:单位成员数"),
        _int("member_households", "成员户数", "入社农户数", "入社户数"),
        _int("nonmember_households", "带动非成员农户数", "带动农户数", "辐射带动农户数"),
        _int("members_trained", "培训成员数", "培训成员人次", "成员培训人次"),
        _bool("public_admin_member", "有公共管理职能单位成员", "具有管理公共事务职能的单位入社"),
        _money("revenue", "经营收入", "经营总收入", "营业收入", "销售收入"),
        _money("fixed_assets", "固定资产", "固定资产总额"),
        _money("member_capital", "成员出资总额", "成员出资", "出资总额"),
        _money("distributable_surplus", "可分配盈余", "可分配盈余总额"),
        _money("surplus_returned", "按交易量返还盈余", "按交易量(额)返还盈余", "按交易量返还", "盈余返还"),
        _money("member_transactions", "与成员交易额", "成员交易额"),
        _money("nonmember_transactions", "与非成员交易额", "非成员交易额"),
        Column(
            "unified_purchase_rate",
            "统一采购率",
            DECIMAL,
            unit=PERCENT,
            aliases=("农资统一采购率",),
            help=_("A percentage: 85 or 85%."),
        ),
        Column(
            "unified_sale_rate",
            "统一销售率",
            DECIMAL,
            unit=PERCENT,
            aliases=("产品统一销售率",),
            help=_("A percentage: 85 or 85%."),
        ),
        Column(
            "income_uplift",
            "成员收入高于当地同类农户",
            DECIMAL,
            unit=PERCENT,
            aliases=("成员收入增幅", "成员收入高于同类农户"),
            help=_("A percentage: 15 or 15%."),
        ),
        _bool("subsidy_received", "获得财政补助", "财政补助", "享受财政补助"),
        _bool("subsidy_quantified", "财政补助资产量化到成员", "补助资产量化"),
        _bool("loss_plan_approved", "亏损处理方案经成员大会通过", "亏损处理方案"),
        _int("extra_votes", "附加表决票数", "附加表决权票数"),
        _bool("assembly_held", "召开成员大会", "成员大会", "是否召开成员大会"),
        _date("assembly_date", "成员大会日期", "成员大会召开日期"),
        _bool("assembly_quorum_met", "成员大会出席达三分之二", "出席达三分之二"),
        _bool("minutes_signed", "会议记录经出席成员签名", "会议记录签名"),
        _bool("organs_in_place", "理事长理事会监事健全", "组织机构健全"),
        _bool("officer_conflict", "存在违规兼职", "违规兼职"),
        _bool("member_register_filed", "成员名册备案", "成员名册"),
        _int("members_with_accounts", "设立成员账户人数", "成员账户数"),
        _bool("accounting_compliant", "执行合作社财务会计制度", "执行财务会计制度"),
        _bool("separate_accounts", "成员与非成员交易分别核算", "分别核算"),
        _bool("financial_statements", "编制财务报表", "财务报表"),
        _bool("documents_available", "年度资料提前15日置备", "提前置备年度资料"),
        _bool("reserve_quantified", "公积金量化到成员", "公积金量化"),
        _bool("internal_audit", "监事审计报告", "内部审计"),
        _bool("annual_report_filed", "报送年度报告", "年报报送", "是否报送年报", "年报"),
        _date("annual_report_date", "年报报送日期", "年度报告报送日期", "年报日期"),
    ),
)

TITLES = Kind(
    name="titles",
    label=_("Demonstration titles"),
    model=DemonstrationTitle,
    sheet_title="示范社",
    key=("credit_code", "level", "year_granted"),
    child=True,
    columns=_child_columns(
        Column(
            "level",
            "示范社级别",
            CHOICE,
            choices=TitleLevel,
            aliases=("级别", "称号", "荣誉称号", "示范社等级", "等级"),
            required=True,
        ),
        Column(
            "year_granted",
            "认定年度",
            YEAR,
            aliases=("授予年度", "获评年度", "认定年份", "命名年度"),
            required=True,
        ),
        Column("year_revoked", "撤销年度", YEAR, aliases=("取消年度", "撤销年份", "摘牌年度")),
        Column("document", "认定文号", TEXT, aliases=("文号", "文件号", "发文字号")),
    ),
)

MEMBERSHIPS = Kind(
    name="memberships",
    label=_("Federation memberships"),
    model=FederationMembership,
    sheet_title="农合联会员",
    key=("credit_code", "level", "since"),
    child=True,
    columns=_child_columns(
        Column(
            "level",
            "农合联层级",
            CHOICE,
            choices=FederationLevel,
            aliases=("层级", "农合联级别", "会员层级"),
            required=True,
        ),
        Column(
            "federation",
            "农合联名称",
            ORGANIZATION,
            aliases=("所属农合联", "农合联"),
            help=_("The federation's name as registered on the platform; may be empty."),
        ),
        _date("since", "入会日期", "加入日期", "入会时间", "加入时间", required=True),
        _date("until", "退出日期", "退会日期"),
        Column("end_reason", "退出原因", TEXT, aliases=("退会原因",)),
    ),
)

SPONSORSHIPS = Kind(
    name="sponsorships",
    label=_("Sponsorships"),
    model=Sponsorship,
    sheet_title="参办领办",
    key=("credit_code", "sponsor", "start_date"),
    child=True,
    columns=_child_columns(
        Column(
            "kind",
            "参办领办",
            CHOICE,
            choices=SponsorshipKind,
            aliases=("类型", "参办或领办", "参办领办类型"),
            required=True,
        ),
        Column(
            "mode",
            "参办领办方式",
            CHOICE,
            choices=SponsorshipMode,
            aliases=("方式", "模式", "参办领办模式"),
            required=True,
        ),
        Column(
            "sponsor",
            "参办领办单位",
            ORGANIZATION,
            aliases=("领办单位", "参办单位", "供销社单位", "主办单位"),
            required=True,
            help=_("The system unit's name as registered on the platform."),
        ),
        _money("equity_amount", "出资金额", "入股金额", "出资额"),
        _date("start_date", "开始日期", "起始日期", "参办领办日期", required=True),
        _date("end_date", "结束日期", "终止日期"),
        Column("end_reason", "结束原因", TEXT, aliases=("终止原因",)),
    ),
)

KINDS: dict[str, Kind] = {k.name: k for k in (COOPERATIVES, FACTS, TITLES, MEMBERSHIPS, SPONSORSHIPS)}
KIND_CHOICES: Sequence[tuple[str, Promise]] = [(k.name, k.label) for k in KINDS.values()]


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; one of {', '.join(KINDS)}") from None
