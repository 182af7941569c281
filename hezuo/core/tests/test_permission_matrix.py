"""The permission matrix: every persona × every URL × in-scope and out-of-scope objects.

The expectations below are written by hand from the product's rules (DESIGN.md, issue 2), not read from
hezuo/accounts/roles.py, so that a change to the role table or to the scoping chokepoint shows up here.
Every URL pattern of the site must be covered: the URL names come from Django's resolver, and a name
that the matrix cannot classify fails the suite (`test_every_url_is_covered_by_the_matrix`), unless it is
listed in PUBLIC_OR_AUTH_ONLY, or covered by an app's own matrix (`MATRIX_URL_NAMES` in
hezuo/<app>/tests/test_matrix.py).

Rules, in short: an object outside the user's reach, or an action the user's role lacks, answers 404
(never 403, never 200); anonymous users are sent to the login page (pages) or refused with 401/403 (API).

Adding a model (its pages named `<app>:<model>_<kind>` by ModelUI, its API `<basename>-list|detail`):
add a column to _RIGHTS_TABLE and its name to MODELS, its cases to CASES (and REACH_OVERRIDES if its
reach differs from its cooperative's), one object per case in the `world` fixture, and an API payload in
`creators` and `patches`. A page with another kind of action (e.g. `<app>:<model>_publish`) needs its kind
in PAGE_KINDS with the right it requires; a page that is not about one model goes into SPECIAL with its
own rule in expected_page().
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from hezuo.conftest import DISTRICT_A, DISTRICT_B, PERSONAS, first_town, make_user
from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.core.testing import api_ids, is_login_redirect, listed, listed_count, xlsx_text
from hezuo.core.ui import REGISTRY

# ------------------------------------------------------------------------------------------------------
# URLs that are not domain pages: public, or only asking for a signed-in user. Checked for sanity below.
PUBLIC_OR_AUTH_ONLY = {
    # signing in and out, one's own password, the language switch
    "login",
    "logout",
    "password_change",
    "set_language",
    # the API's index, token endpoint, OpenAPI schema and docs
    "api-root",
    "api-token",
    "api-schema",
    "api-docs",
    "api-redoc",
}
EXEMPT_NAMESPACES = ("admin:",)  # Django's admin has its own staff-only login

# What each role may do on each model: V view, A add, C change, R retire, E export.
MODELS = (
    "cooperative",
    "yearlyfact",
    "demonstrationtitle",
    "federationmembership",
    "sponsorship",
    "organization",
    "counselorassignment",
    "user",
    "changerecord",
    "division",
)
_RIGHTS_TABLE = """
                       coop   fact   title  member sponsor org    assign user   change division
city                   VACRE  VACRE  VACRE  VACRE  VACRE   VACRE  VACRE  VACRE  VACRE  V
viewer                 VE     VE     VE     VE     VE      VE     VE     -      -      V
district_a             VACRE  VACRE  VACRE  VACRE  VACRE   V      VACRE  -      -      V
district_b             VACRE  VACRE  VACRE  VACRE  VACRE   V      VACRE  -      -      V
counselor              V      V      V      V      V       V      V      -      -      V
counselor_unassigned   V      V      V      V      V       V      V      -      -      V
coop_user              V      VAC    V      V      V       V      V      -      -      V
"""
RIGHTS: dict[str, dict[str, str]] = {
    line.split()[0]: dict(zip(MODELS, (c.strip("-") for c in line.split()[1:]), strict=True))
    for line in _RIGHTS_TABLE.strip().splitlines()[1:]
}

# The objects each model is tested on ("cases") and who reaches which.
#   A: in district A, of coop_a (the counselor's and the cooperative user's cooperative)
#   A2: in district A, of coop_a2 (no counselor assigned)
#   B: in district B, of coop_b
#   city: a city-level unit (organisations only; no district)
CASES = {
    "cooperative": ("A", "A2", "B"),
    "yearlyfact": ("A", "A2", "B"),
    "demonstrationtitle": ("A", "A2", "B"),
    "federationmembership": ("A", "A2", "B"),
    "sponsorship": ("A", "A2", "B"),
    "counselorassignment": ("A", "A2", "B"),
    "organization": ("A", "B", "city"),
    "user": ("A", "B"),
    "division": ("A", "B"),
}
REACH = {
    "city": {"A", "A2", "B", "city"},
    "viewer": {"A", "A2", "B", "city"},
    "district_a": {"A", "A2", "city"},
    "district_b": {"B", "city"},
    "counselor": {"A", "city"},
    "counselor_unassigned": {"city"},
    "coop_user": {"A", "city"},
}
REACH_OVERRIDES = {
    # counselors and cooperative users have no district: of the organisations they see the city-level ones
    "organization": {"counselor": {"city"}, "coop_user": {"city"}, "counselor_unassigned": {"city"}},
    # divisions are public reference data
    "division": {persona: {"A", "B"} for persona in PERSONAS},
}
READ_ONLY_API = {"user", "division"}  # the API only reads these (users are managed on their pages)
PAGE_KINDS = {
    "list": "V",
    "export": "E",
    "add": "A",
    "detail": "V",
    "history": "V",
    "edit": "C",
    "retire": "R",
}
ANONYMOUS = "anonymous"
ALL_PERSONAS = (*PERSONAS, ANONYMOUS)


def reach(persona: str, model: str) -> set[str]:
    return REACH_OVERRIDES.get(model, {}).get(persona, REACH[persona])


def allowed(persona: str, model: str, right: str) -> bool:
    return right in RIGHTS[persona][model]


# ------------------------------------------------------------------------------------------------------
# the site's URL names, from the resolver
def resolver_urls() -> dict[str, str]:
    """Every named URL pattern: name (with namespace) -> route of the first pattern of that name."""
    found: dict[str, str] = {}

    def walk(resolver: URLResolver, namespace: str, prefix: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern, ns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.setdefault(f"{namespace}{pattern.name}", prefix + str(pattern.pattern))

    walk(get_resolver(), "", "/")
    return found


PAGE_NAME = re.compile(r"^(?P<app>[a-z]+):(?P<model>[a-z]+)_(?P<kind>[a-z]+)$")
API_NAME = re.compile(r"^(?P<model>[a-z]+)-(?P<kind>list|detail)$")
SPECIAL = {"home", "core:change_list"}


@dataclass(frozen=True)
class Route:
    name: str
    kind: str  # a page kind (PAGE_KINDS), "api-list", "api-detail", or the special name
    model: str | None
    route: str

    @property
    def label(self) -> str:
        return f"{self.app}.{self.model}" if self.model else ""

    @property
    def app(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""


def classify(name: str, route: str) -> Route | None:
    """The matrix's reading of a URL name; None when the matrix does not know it."""
    if name in SPECIAL:
        return Route(name, name, None, route)
    page = PAGE_NAME.match(name)
    if page and page["model"] in MODELS and page["kind"] in PAGE_KINDS:
        try:
            apps.get_model(page["app"], page["model"])
        except LookupError:
            return None
        return Route(name, page["kind"], page["model"], route)
    api = API_NAME.match(name)
    if api and api["model"] in MODELS:
        return Route(name, f"api-{api['kind']}", api["model"], route)
    return None


def matrix_urls() -> dict[str, str]:
    return {
        name: route
        for name, route in resolver_urls().items()
        if name not in PUBLIC_OR_AUTH_ONLY and not name.startswith(EXEMPT_NAMESPACES)
    }


def app_test_modules(name: str) -> list[Any]:
    """The modules `hezuo.<app>.tests.<name>` that exist (apps may keep their own matrix or view tests)."""
    import importlib

    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("hezuo."):
            continue
        module = f"{config.name}.tests.{name}"
        try:
            found.append(importlib.import_module(module))
        except ModuleNotFoundError as exc:
            if exc.name not in (module, f"{config.name}.tests"):
                raise
    return found


def covered_elsewhere() -> set[str]:
    """URL names covered by an app's own matrix: `MATRIX_URL_NAMES` in `hezuo/<app>/tests/test_matrix.py`."""
    names: set[str] = set()
    for module in app_test_modules("test_matrix"):
        names |= set(getattr(module, "MATRIX_URL_NAMES", ()))
    return names


def test_every_url_is_covered_by_the_matrix() -> None:
    elsewhere = covered_elsewhere()
    uncovered = sorted(
        name
        for name, route in matrix_urls().items()
        if classify(name, route) is None and name not in elsewhere
    )
    assert not uncovered, (
        "URL patterns no permission matrix covers (add them to the matrix in "
        "hezuo/core/tests/test_permission_matrix.py or to PUBLIC_OR_AUTH_ONLY, or list them in "
        f"MATRIX_URL_NAMES of the app's own tests/test_matrix.py): {uncovered}"
    )
    # and the matrix names nothing that no longer exists
    names = set(resolver_urls())
    assert names >= PUBLIC_OR_AUTH_ONLY, PUBLIC_OR_AUTH_ONLY - names
    assert names >= SPECIAL, SPECIAL - names
    assert names >= elsewhere, elsewhere - names


# models whose pages need no generated view tests (hezuo.core.testing), and why
GENERATED_TESTS_EXEMPT = {
    "accounts.user": "users are deactivated, never retired; their pages are city staff's (matrix above)",
}


def test_every_model_with_pages_has_generated_view_tests() -> None:
    """NetBox's meta-test, slim: a model declared with a ModelUI gets a ModelViewTests class (in
    `hezuo/<app>/tests/test_models_generated.py`), or is exempted there with a reason in
    GENERATED_TESTS_EXEMPT."""
    from hezuo.core.testing import ModelViewTests

    exempt = dict(GENERATED_TESTS_EXEMPT)
    for module in app_test_modules("test_models_generated"):
        exempt.update(getattr(module, "GENERATED_TESTS_EXEMPT", {}))
    classes, covered = list(ModelViewTests.__subclasses__()), set()
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if "spec" in cls.__dict__:
            covered.add(cls.spec.model._meta.label_lower)
    missing = sorted(set(REGISTRY) - covered - set(exempt))
    assert not missing, f"models with pages but no generated view tests (hezuo.core.testing): {missing}"


# ------------------------------------------------------------------------------------------------------
# the objects
_n = itertools.count(1)


def _saved(obj: Any) -> Any:
    with change_context(source="cli"):
        save_record(obj)
    return obj


@pytest.fixture
def world(city_data: dict[str, Any]) -> dict[str, Any]:
    """city_data plus one object per (model, case), and the API payloads that create one per case."""
    from hezuo.accounts.models import CounselorAssignment
    from hezuo.geo.models import Division
    from hezuo.registry.models import (
        DemonstrationTitle,
        FederationMembership,
        Organization,
        Sponsorship,
        YearlyFact,
    )

    d_a, d_b = Division.objects.get(code=DISTRICT_A), Division.objects.get(code=DISTRICT_B)
    coops = {"A": city_data["coop_a"], "A2": city_data["coop_a2"], "B": city_data["coop_b"]}
    orgs = {
        "A": _saved(Organization(name="宁海县供销合作社", kind="district_smc", district=d_a)),
        "B": _saved(Organization(name="象山县供销合作社", kind="district_smc", district=d_b)),
        "city": _saved(Organization(name="宁波市农合联", kind="federation_city")),
    }
    counselor_a2 = make_user(f"counselor-{DISTRICT_A}-9", "counselor", district=d_a)
    counselor_b = make_user(f"counselor-{DISTRICT_B}-1", "counselor", district=d_b)
    objects: dict[str, dict[str, Any]] = {
        "cooperative": coops,
        "organization": orgs,
        "user": {"A": city_data["district_a"], "B": city_data["district_b"]},
        "division": {"A": d_a, "B": d_b},
        "yearlyfact": {},
        "demonstrationtitle": {},
        "federationmembership": {},
        "sponsorship": {},
        "counselorassignment": {
            "A": CounselorAssignment.objects.get(counselor=city_data["counselor"]),
            "A2": _saved(
                CounselorAssignment(
                    counselor=counselor_a2, cooperative=coops["A2"], start_date=dt.date(2024, 1, 1)
                )
            ),
            "B": _saved(
                CounselorAssignment(
                    counselor=counselor_b, cooperative=coops["B"], start_date=dt.date(2024, 1, 1)
                )
            ),
        },
    }
    for case, coop in coops.items():
        objects["yearlyfact"][case] = _saved(
            YearlyFact(cooperative=coop, year=2023, members=10, farmer_members=9)
        )
        objects["demonstrationtitle"][case] = _saved(
            DemonstrationTitle(cooperative=coop, level="county", year_granted=2021)
        )
        objects["federationmembership"][case] = _saved(
            FederationMembership(cooperative=coop, level="district", since=dt.date(2020, 1, 1))
        )
        objects["sponsorship"][case] = _saved(
            Sponsorship(
                cooperative=coop,
                kind="lead",
                mode="services",
                sponsor=orgs["city"],
                start_date=dt.date(2021, 1, 1),
            )
        )
    # new assignments name counselors not yet on the cooperative (periods of one counselor do not overlap)
    counselor_b2 = make_user(f"counselor-{DISTRICT_B}-2", "counselor", district=d_b)
    counselors = {"A": city_data["counselor_unassigned"], "B": counselor_b2}

    def coop_payload(case: str) -> dict[str, Any]:
        n = next(_n)
        code = DISTRICT_A if case == "A" else DISTRICT_B
        from hezuo.registry.creditcode import make_code

        return {
            "name": f"矩阵测试{n}号专业合作社",
            "credit_code": make_code(code, f"MX{n:07d}"),
            "registration_date": "2018-01-01",
            "district": code,
            "town": first_town(code).code,
            "industry": "fruit",
        }

    creators: dict[str, Callable[[str], dict[str, Any]]] = {
        "cooperative": coop_payload,
        "yearlyfact": lambda case: {"cooperative": coops[case].pk, "year": 2024, "members": 5},
        "demonstrationtitle": lambda case: {
            "cooperative": coops[case].pk,
            "level": "city",
            "year_granted": 2023,
        },
        "federationmembership": lambda case: {
            "cooperative": coops[case].pk,
            "level": "town",
            "since": "2022-01-10",
        },
        "sponsorship": lambda case: {
            "cooperative": coops[case].pk,
            "kind": "lead",
            "mode": "services",
            "sponsor": orgs["city"].pk,
            "start_date": "2022-04-01",
        },
        "organization": lambda case: {
            "name": f"基层供销社{next(_n)}",
            "kind": "grassroots_smc",
            "district": (d_a if case == "A" else d_b).pk,
        },
        "counselorassignment": lambda case: {
            "counselor": counselors[case].pk,
            "cooperative": coops[case].pk,
            "start_date": "2024-09-01",
        },
        "user": lambda case: {"username": f"new-user-{next(_n)}", "role": "viewer"},
        "division": lambda case: {"code": "330299", "name": "x", "level": "district"},
    }
    patches = {
        "cooperative": {"note": "matrix"},
        "yearlyfact": {"members": 11},
        "demonstrationtitle": {"document": "x"},
        "federationmembership": {"level": "town"},
        "sponsorship": {"equity_amount": "1000"},
        "organization": {"name": "更名"},
        "counselorassignment": {"end_date": "2026-12-31"},
        "user": {"first_name": "x"},
        "division": {"name": "x"},
    }
    return {**city_data, "objects": objects, "creators": creators, "patches": patches}


# ------------------------------------------------------------------------------------------------------
# expectations
def expected_page(persona: str, route: Route, case: str | None) -> int | str:
    """200, 404, or "login" (a redirect to the login page)."""
    if persona == ANONYMOUS:
        return "login"
    if route.kind == "home":
        return "redirect" if persona == "coop_user" else 200  # a cooperative user lands on its cooperative
    if route.kind == "core:change_list":
        return 200 if allowed(persona, "changerecord", "V") else 404
    assert route.model is not None
    if not allowed(persona, route.model, PAGE_KINDS[route.kind]):
        return 404
    if case is None:
        return 200
    reached_through = "cooperative" if "<int:parent_pk>" in route.route else route.model
    return 200 if case in reach(persona, reached_through) else 404


def expected_api(persona: str, model: str, method: str, case: str | None) -> int | set[int]:
    if persona == ANONYMOUS:
        return {401, 403}
    if model in READ_ONLY_API and method != "GET":
        return 405
    if method == "GET" and case is None:  # a list: its rows are scoped (checked below)
        return 200 if allowed(persona, model, "V") else 404
    if method == "POST":
        if not allowed(persona, model, "A"):
            return 404
        # where the new record would be: in its cooperative (or, for an organisation, its district); out of
        # reach, the API refuses it as invalid (the cooperative "does not exist" for the caller)
        through = "organization" if model == "organization" else "cooperative"
        return 201 if case in reach(persona, through) else 400
    right = {"GET": "V", "PATCH": "C", "DELETE": "R"}[method]
    if not allowed(persona, model, right) or case not in reach(persona, model):
        return 404
    return {"GET": 200, "PATCH": 200, "DELETE": 204}[method]


def page_cases(route: Route) -> list[str | None]:
    if "<int:pk>" in route.route:
        assert route.model is not None
        return list(CASES[route.model])
    if "<int:parent_pk>" in route.route:
        return ["A", "A2", "B"]
    return [None]


def page_url(route: Route, world: dict[str, Any], case: str | None) -> str:
    if case is None:
        return reverse(route.name)
    if "<int:parent_pk>" in route.route:
        return reverse(route.name, kwargs={"parent_pk": world["objects"]["cooperative"][case].pk})
    assert route.model is not None
    return reverse(route.name, kwargs={"pk": world["objects"][route.model][case].pk})


def _matches(expected: Any, response: Any) -> bool:
    if expected == "login":
        return is_login_redirect(response)
    if expected == "redirect":
        return response.status_code == 302 and not is_login_redirect(response)
    if isinstance(expected, set):
        return response.status_code in expected
    return response.status_code == expected


def _clients(world: dict[str, Any]) -> dict[str, Client]:
    clients = {ANONYMOUS: Client()}
    for persona in PERSONAS:
        clients[persona] = Client()
        clients[persona].force_login(world[persona])
    return clients


def _model_class(model: str) -> Any:
    for label in (f"registry.{model}", f"accounts.{model}", f"geo.{model}", f"core.{model}"):
        try:
            return apps.get_model(label)
        except LookupError:
            continue
    raise LookupError(model)


ROUTES = [
    route for name, path in sorted(matrix_urls().items()) if (route := classify(name, path)) is not None
]
PAGE_ROUTES = [r for r in ROUTES if not r.kind.startswith("api-")]
API_ROUTES = [r for r in ROUTES if r.kind.startswith("api-")]


def _grouped(routes: list[Route]) -> list[tuple[str, list[Route]]]:
    """Routes grouped by model (one test per model keeps the suite fast; failures name each URL)."""
    groups: dict[str, list[Route]] = {}
    for route in routes:
        groups.setdefault(route.model or "site", []).append(route)
    return sorted(groups.items())


@pytest.mark.parametrize(
    ("model", "routes"), _grouped(PAGE_ROUTES), ids=[m for m, _ in _grouped(PAGE_ROUTES)]
)
def test_pages(model: str, routes: list[Route], world: dict[str, Any]) -> None:
    clients = _clients(world)
    mismatches = []
    for route in routes:
        for persona in ALL_PERSONAS:
            for case in page_cases(route):
                url = page_url(route, world, case)
                response = clients[persona].get(url)
                expected = expected_page(persona, route, case)
                if not _matches(expected, response):
                    mismatches.append(
                        f"{persona:22} GET {url} ({route.name} [{case}]): expected {expected}, "
                        f"got {response.status_code}"
                    )
    assert not mismatches, "\n" + "\n".join(mismatches)


@pytest.mark.parametrize(("model", "routes"), _grouped(API_ROUTES), ids=[m for m, _ in _grouped(API_ROUTES)])
def test_api(model: str, routes: list[Route], world: dict[str, Any]) -> None:
    clients = _clients(world)
    mismatches = []
    for route in routes:
        mismatches += _check_api_route(route, world, clients)
    assert not mismatches, "\n" + "\n".join(mismatches)


def _check_api_route(route: Route, world: dict[str, Any], clients: dict[str, Client]) -> list[str]:
    assert route.model is not None
    model = _model_class(route.model)
    mismatches = []

    def check(persona: str, method: str, url: str, case: str | None, payload: Any = None) -> None:
        client = clients[persona]
        if method == "GET":
            response = client.get(url)
        else:
            response = getattr(client, method.lower())(url, payload, content_type="application/json")
        expected = expected_api(persona, route.model, method, case)  # type: ignore[arg-type]
        if not _matches(expected, response):
            body = getattr(response, "data", "")
            mismatches.append(
                f"{persona:22} {method} {url} [{case}]: expected {expected}, got "
                f"{response.status_code} {body}"
            )
        # leave the world as it was for the next persona
        if response.status_code == 201:
            model._default_manager.filter(pk=response.json()["id"]).update(retired_at=timezone.now())
        if method == "DELETE" and response.status_code == 204:
            model._default_manager.filter(pk=url.rstrip("/").rsplit("/", 1)[1]).update(retired_at=None)

    for persona in ALL_PERSONAS:
        if route.kind == "api-list":
            url = reverse(route.name)
            check(persona, "GET", url, None)
            for case in ("A", "B"):
                check(persona, "POST", url, case, world["creators"][route.model](case))
        else:
            for case in CASES[route.model]:
                url = reverse(route.name, args=[world["objects"][route.model][case].pk])
                check(persona, "GET", url, case)
                check(persona, "PATCH", url, case, world["patches"][route.model])
                check(persona, "DELETE", url, case)
    return mismatches


def test_public_or_auth_only_urls_answer_sanely(world: dict[str, Any]) -> None:
    anonymous, signed_in = Client(), Client()
    signed_in.force_login(world["district_a"])
    assert anonymous.get(reverse("login")).status_code == 200
    assert is_login_redirect(anonymous.get(reverse("password_change")))
    assert signed_in.get(reverse("password_change")).status_code == 200
    assert anonymous.get(reverse("api-root")).status_code in (401, 403)
    assert signed_in.get(reverse("api-root")).status_code == 200
    for name in ("api-schema", "api-docs", "api-redoc"):
        assert signed_in.get(reverse(name)).status_code == 200, name
    assert (
        anonymous.post(reverse("api-token"), {"username": "district-330226", "password": "wrong"}).status_code
        == 400
    )


# ------------------------------------------------------------------------------------------------------
# what a district user gets: nothing of another district, in lists, counts, search, exports and the API
DISTRICT_USERS = [("district_a", "coop_a", "coop_b"), ("district_b", "coop_b", "coop_a")]


@pytest.mark.parametrize(("persona", "own", "other"), DISTRICT_USERS)
def test_district_lists_search_and_exports_contain_nothing_of_another_district(
    world: dict[str, Any], persona: str, own: str, other: str
) -> None:
    from hezuo.registry.search import pinyin_forms

    client = Client()
    client.force_login(world[persona])
    objects = world["objects"]
    own_district = world[persona].district
    other_coop = world[other]
    own_names = {c.name for c in objects["cooperative"].values() if c.district_id == own_district.pk}
    full, initials = pinyin_forms(other_coop.name)
    other_code = DISTRICT_B if own_district.code == DISTRICT_A else DISTRICT_A
    queries = [
        {},
        {"q": other_coop.name},
        {"q": other_coop.name[:2]},
        {"q": full[:8]},
        {"q": initials[:4]},
        {"q": other_coop.credit_code},
        {"district": other_code},
        {"industry": "fruit"},
    ]
    for params in queries:
        response = client.get("/registry/cooperatives/", {**params, "per_page": 100})
        assert response.status_code == 200
        names = {c.name for c in listed(response)}
        assert other_coop.name not in names, params
        assert names <= own_names, params
        assert listed_count(response) == len(names)
        # (a query is echoed in the search box; the rest of the page must not name the other cooperative)
        assert other_coop.name not in response.content.decode().replace(f'value="{params.get("q")}"', ""), (
            params
        )
        export = xlsx_text(client.get("/registry/cooperatives/export/", params))
        assert other_coop.name not in export, params
        assert other_coop.credit_code not in export, params
        if not params:
            assert names == own_names
            assert all(name in export for name in own_names)
        response = client.get("/api/cooperatives/", params)
        if response.status_code == 400:  # another district's code is not a valid choice: said, nothing shown
            assert set(response.json()) == set(params) - {"q"}, response.json()
            assert other_coop.name not in response.content.decode()
            continue
        api = response.json()
        assert {row["name"] for row in api["results"]} <= own_names, params
        assert api["count"] == len(api["results"])
    # the search itself works: the own cooperative is found by its pinyin initials
    own_full, own_initials = pinyin_forms(world[own].name)
    assert world[own].pk in {
        c.pk for c in listed(client.get("/registry/cooperatives/", {"q": own_initials[:4]}))
    }
    assert world[own].pk in api_ids(client.get("/api/cooperatives/", {"q": own_full[:8]}))
    # the landing page's counts
    home = client.get("/")
    assert home.context["total"] == len(own_names)
    assert [row["district__code"] for row in home.context["by_district"]] == [own_district.code]
    assert other_coop.district.name not in home.content.decode()
    # the records of the cooperatives, in the API
    for model in (
        "yearlyfact",
        "demonstrationtitle",
        "federationmembership",
        "sponsorship",
        "counselorassignment",
    ):
        url = reverse(f"{model}-list")
        rows = client.get(url, {"page_size": 1000}).json()["results"]
        coops = {row["cooperative"] for row in rows}
        assert coops and coops <= {
            c.pk for c in objects["cooperative"].values() if c.district_id == own_district.pk
        }
        assert client.get(url, {"cooperative": other_coop.pk}).json()["count"] == 0
    # organisations: their district's and the city's, never the other district's
    other_org = objects["organization"]["B" if own == "coop_a" else "A"]
    page = client.get("/registry/organizations/", {"per_page": 100})
    assert other_org.pk not in {o.pk for o in listed(page)}
    assert listed_count(page) == 2
    assert other_org.pk not in api_ids(client.get("/api/organizations/"))
    assert client.get("/api/organizations/", {"district": other_org.district_id}).json()["count"] == 0
    # users are city staff's business
    assert client.get("/accounts/users/").status_code == 404
    assert client.get("/api/users/").status_code == 404


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("counselor", {"coop_a"}),
        ("counselor_unassigned", set()),
        ("coop_user", {"coop_a"}),
        ("viewer", {"coop_a", "coop_a2", "coop_b"}),
        ("city", {"coop_a", "coop_a2", "coop_b"}),
    ],
)
def test_other_roles_see_exactly_their_cooperatives(
    world: dict[str, Any], persona: str, visible: set[str]
) -> None:
    client = Client()
    client.force_login(world[persona])
    expected = {world[name].pk for name in visible}
    response = client.get("/registry/cooperatives/", {"per_page": 100})
    assert {c.pk for c in listed(response)} == expected
    assert listed_count(response) == len(expected)
    assert api_ids(client.get("/api/cooperatives/")) == expected
    facts = client.get("/api/facts/").json()["results"]
    assert {row["cooperative"] for row in facts} == expected
    # searching for a cooperative out of reach finds nothing
    for name in {"coop_a", "coop_a2", "coop_b"} - visible:
        assert not listed(client.get("/registry/cooperatives/", {"q": world[name].name}))
        assert api_ids(client.get("/api/cooperatives/", {"q": world[name].name})) == set()


def test_api_refuses_an_out_of_scope_parent_like_a_missing_one(world: dict[str, Any]) -> None:
    """Creating a record under another district's cooperative says "does not exist", as for a missing id."""
    client = Client()
    client.force_login(world["district_a"])
    missing = max(c.pk for c in world["objects"]["cooperative"].values()) + 1000
    for model in (
        "yearlyfact",
        "demonstrationtitle",
        "federationmembership",
        "sponsorship",
        "counselorassignment",
    ):
        url = reverse(f"{model}-list")
        payload = world["creators"][model]("B")
        out_of_scope = client.post(url, payload, content_type="application/json")
        nowhere = client.post(url, {**payload, "cooperative": missing}, content_type="application/json")
        assert out_of_scope.status_code == nowhere.status_code == 400, model
        message = str(out_of_scope.json()["cooperative"])
        assert message == str(nowhere.json()["cooperative"]).replace(
            str(missing), str(payload["cooperative"])
        )


def test_the_matrix_is_big_enough() -> None:
    """A guard against a resolver walk that silently finds nothing."""
    assert len(PAGE_ROUTES) >= 45
    assert len(API_ROUTES) >= 18
    assert {r.model for r in API_ROUTES} >= set(MODELS) - {"changerecord"}
    assert len(ALL_PERSONAS) == 8
