"""A per-model test generator (NetBox's ViewTestCases, slim) and small helpers for view tests.

A model declared with a `ModelUI` gets its scope, history and permission tests from one `ModelSpec`:

    class TestTitleViews(ModelViewTests):
        spec = ModelSpec(
            ui=DemonstrationTitleUI(),
            make=lambda world, where: make_title(world, where),        # "A" = district A, "B" = district B
            create_data=lambda world: {"level": "county", "year_granted": "2022"},
            change=("document", "甬农〔2023〕5号"),
            denied={"viewer": {ADD, CHANGE, RETIRE}, "counselor": {ADD, CHANGE, RETIRE}},
        )

`world` is the `city_data` fixture of hezuo/conftest.py (coop_a and coop_a2 in district A, coop_b in
district B, one user per persona). Every generated test is a method of `ModelViewTests`; pytest collects
them in each `Test…` subclass. They check, for the model's pages and API endpoints:

* lists, API lists and exports show the rows in the user's scope only, with the right count;
* detail, edit, retire, history (and add under an out-of-scope parent) answer 404 out of scope, and the
  API answers 404 too; nothing is written;
* create, update and retire each write exactly one ChangeRecord with the right diff and the typed reason,
  through the form and through the API; an edit that changes nothing writes nothing;
* retiring hides the row from the lists and keeps it in the database (nothing is deleted);
* anonymous users are sent to the login page (pages) or refused (API);
* roles without the permission get 404, and nothing is written.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.db import models
from django.db.models import Q
from django.test import Client
from django.urls import NoReverseMatch, reverse
from openpyxl import load_workbook

from .models import ChangeRecord
from .scoping import ADD, CHANGE, EXPORT, RETIRE, VIEW
from .services import snapshot
from .ui import ModelUI

World = dict[str, Any]
Response = Any  # what django.test.Client returns (an HttpResponse with .context, .json(), …)
REASON = "checked against the 2024 annual report"


# helpers -------------------------------------------------------------------------------------------
def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """The POST data a browser would send for an unbound form as it is shown (its initial values)."""
    data: dict[str, Any] = {}
    for name, form_field in form.fields.items():
        key = form.add_prefix(name)
        value = form[name].value()
        widget = form_field.widget
        if isinstance(widget, forms.NullBooleanSelect):
            data[key] = {True: "true", False: "false"}.get(value, "unknown")
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[key] = "on"
        elif value is None:
            data[key] = ""
        elif isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
        else:
            data[key] = str(value)
    return data


def edit_form_data(ui: ModelUI, obj: models.Model, user: Any, **changes: Any) -> dict[str, Any]:
    """The edit page's POST data for `obj` as shown to `user`, with `changes` applied."""
    form = ui.form_class(instance=obj, user=user, parent=ui.parent_of(obj))
    data = form_data(form)
    data.update(changes)
    return data


def listed(response: Response) -> list[Any]:
    """The records on a list page (current page)."""
    table = response.context["table"]
    return [row.record for row in table.paginated_rows]


def listed_count(response: Response) -> int:
    return response.context["table"].paginator.count


def xlsx_rows(response: Response) -> list[list[Any]]:
    """The rows of an .xlsx export, header first."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats"), response["Content-Type"]
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def xlsx_text(response: Response) -> str:
    """Every cell of an export as one string (to look for names that must, or must not, appear)."""
    return "\n".join("\t".join("" if v is None else str(v) for v in row) for row in xlsx_rows(response))


def api_ids(response: Response) -> set[int]:
    assert response.status_code == 200, (response.status_code, getattr(response, "data", None))
    return {row["id"] for row in response.json()["results"]}


def is_login_redirect(response: Response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next=")


class ChangeLog:
    """Records written since it was opened: `with ChangeLog() as log: …; log.records`."""

    def __enter__(self) -> ChangeLog:
        self.last_id = ChangeRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def records(self) -> list[ChangeRecord]:
        return list(ChangeRecord.objects.filter(id__gt=self.last_id).order_by("id"))


def field_value(form_field: forms.Field, posted: Any) -> Any:
    """What a form field makes of a posted value, in the model's terms (a pk for a foreign key)."""
    value = form_field.clean(posted)
    return value.pk if isinstance(value, models.Model) else value


def model_value(obj: models.Model, name: str) -> Any:
    model_field = obj._meta.get_field(name)
    return getattr(obj, model_field.attname)  # type: ignore[union-attr]


# the spec --------------------------------------------------------------------------------------------
@dataclass
class ModelSpec:
    """What the generator needs to know about one model; everything else comes from its ModelUI.

    make(world, where): a new saved record; where "A" puts it in district A (under coop_a for records of
        a cooperative), "B" in district B (under coop_b).
    create_data(world): valid form data for a new record in district A (under coop_a).
    change: (field, form value) for the update test; the value must differ from make()'s.
    api_create(world): valid API payload for a new record in district A; api_change: (field, JSON value).
    editor: the persona that adds, changes and retires in district A.
    scoped: the persona for whom district A is in scope and district B is not.
    denied: persona -> actions the persona may not do on `target(world)` (they see it unless VIEW is in).
    in_scope(world): a Q for exactly the rows the `scoped` persona's lists must show (retired aside);
        by default the rows of the `scoped` persona's district.
    label(obj): the text that identifies a row in an export.
    parent_rows(response): the records shown on the parent's page (for records without their own list).
    """

    ui: ModelUI
    make: Callable[[World, str], models.Model]
    create_data: Callable[[World], dict[str, Any]]
    change: tuple[str, Any]
    api_create: Callable[[World], dict[str, Any]] | None = None
    api_change: tuple[str, Any] | None = None
    editor: str = "district_a"
    scoped: str = "district_a"
    denied: Mapping[str, set[str]] = field(default_factory=dict)
    target: Callable[[World], models.Model] | None = None
    in_scope: Callable[[World], Q] | None = None
    label: Callable[[Any], str] = str
    parent_rows: Callable[[Response], Iterable[Any]] | None = None
    api_basename: str = ""

    @property
    def model(self) -> type[models.Model]:
        return self.ui.model

    def basename(self) -> str:
        return self.api_basename or self.ui.model_name

    def url(
        self, action: str, obj: models.Model | None = None, parent: models.Model | None = None
    ) -> str | None:
        """The page's URL, or None when the model has no such page (e.g. no list for a child record)."""
        try:
            return self.ui.url(action, obj, parent)
        except NoReverseMatch:
            return None

    def page(self, action: str, obj: models.Model | None = None, parent: models.Model | None = None) -> str:
        """The page's URL; the page must exist."""
        url = self.url(action, obj, parent)
        assert url is not None, f"{self.ui.model_name} has no {action} page"
        return url

    def api_url(self, obj: models.Model | None = None) -> str:
        if obj is None:
            return reverse(f"{self.basename()}-list")
        return reverse(f"{self.basename()}-detail", args=[obj.pk])

    def parent(self, world: World, where: str = "A") -> models.Model | None:
        if not self.ui.parent_field:
            return None
        return world["coop_a" if where == "A" else "coop_b"]

    def in_scope_q(self, world: World) -> Q:
        if self.in_scope is not None:
            return self.in_scope(world)
        return Q(**{self.model.scope_district: world[self.scoped].district_id})  # type: ignore[attr-defined]

    def shown_on_parent(self, client: Client, obj: models.Model) -> list[Any]:
        parent = self.ui.parent_of(obj)
        assert parent is not None
        response = client.get(parent.get_absolute_url(), {"tab": self.ui.parent_tab})  # type: ignore[attr-defined]
        assert response.status_code == 200
        if self.parent_rows is not None:
            return list(self.parent_rows(response))
        return list(response.context["sections"][self.ui.parent_tab]["rows"])


# the generated tests ----------------------------------------------------------------------------------
class ModelViewTests:
    """Subclass as `Test<Model>Views` with `spec = ModelSpec(...)`; pytest collects the tests below."""

    spec: ClassVar[ModelSpec]

    # lists ------------------------------------------------------------------------------------------
    def test_list_shows_in_scope_rows_only(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        inside, outside = spec.make(city_data, "A"), spec.make(city_data, "B")
        client = client_for(spec.scoped)
        expected = spec.model._default_manager.filter(spec.in_scope_q(city_data), retired_at__isnull=True)
        list_url = spec.url("list")
        if list_url is not None:
            response = client.get(list_url, {"per_page": 100})
            assert response.status_code == 200
            rows = {r.pk for r in listed(response)}
            assert inside.pk in rows
            assert outside.pk not in rows
            assert rows == set(expected.values_list("pk", flat=True))
            assert listed_count(response) == expected.count()
            if EXPORT not in spec.denied.get(spec.scoped, ()):
                export = xlsx_text(client.get(spec.page("export")))
                assert spec.label(inside) in export
                assert spec.label(outside) not in export
        else:
            shown = {r.pk for r in spec.shown_on_parent(client, inside)}
            assert inside.pk in shown
        # the API list: same scope, same count
        data = client.get(spec.api_url(), {"page_size": 1000}).json()
        ids = {row["id"] for row in data["results"]}
        assert inside.pk in ids
        assert outside.pk not in ids
        assert ids == set(expected.values_list("pk", flat=True))
        assert data["count"] == expected.count()
        # asking for the outside record's parent by filter does not reveal it
        if spec.ui.parent_field:
            outside_parent = spec.ui.parent_of(outside)
            assert outside_parent is not None
            data = client.get(spec.api_url(), {spec.ui.parent_field: outside_parent.pk}).json()
            assert data["count"] == 0

    # out of scope -----------------------------------------------------------------------------------
    def test_out_of_scope_answers_404_and_writes_nothing(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        outside = spec.make(city_data, "B")
        client = client_for(spec.scoped)
        before = snapshot(outside)
        post_data = edit_form_data(spec.ui, outside, city_data["city"], reason=REASON)
        create_data = spec.create_data(city_data)
        with ChangeLog() as log:
            for action in ("detail", "edit", "retire", "history"):
                url = spec.page(action, outside)
                assert client.get(url).status_code == 404, url
            edit_url, retire_url = spec.page("edit", outside), spec.page("retire", outside)
            assert client.post(edit_url, post_data).status_code == 404
            assert client.post(retire_url, {"reason": REASON}).status_code == 404
            parent = spec.parent(city_data, "B")
            if parent is not None:
                add_url = spec.page("add", parent=parent)
                assert client.get(add_url).status_code == 404
                count = spec.model._default_manager.count()
                assert client.post(add_url, create_data).status_code == 404
                assert spec.model._default_manager.count() == count
            api_url = spec.api_url(outside)
            assert client.get(api_url).status_code == 404
            field_name, value = spec.api_change or spec.change
            assert (
                client.patch(api_url, {field_name: value}, content_type="application/json").status_code == 404
            )
            assert client.delete(api_url).status_code == 404
        assert log.records == []
        outside.refresh_from_db()
        assert snapshot(outside) == before
        assert outside.retired_at is None  # type: ignore[attr-defined]

    # history ---------------------------------------------------------------------------------------
    def test_create_writes_one_change_record(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        editor = city_data[spec.editor]
        parent = spec.parent(city_data, "A")
        data = spec.create_data(city_data)
        count = spec.model._default_manager.count()
        with ChangeLog() as log:
            response = client_for(spec.editor).post(
                spec.page("add", parent=parent), {**data, "reason": REASON}
            )
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        assert spec.model._default_manager.count() == count + 1
        (record,) = log.records
        obj = spec.model._default_manager.get(pk=record.object_id)
        assert record.action == ChangeRecord.Action.CREATE
        assert record.content_type.model_class() is spec.model
        assert record.user == editor
        assert record.message == REASON
        assert record.before is None
        assert record.after == snapshot(obj)
        form = spec.ui.form_class(data, user=editor, parent=parent)  # bound: choices follow the data
        for name, posted in data.items():
            if name in form.fields and name not in ("reason", "confirm_warnings"):
                assert model_value(obj, name) == field_value(form.fields[name], posted), name
        if parent is not None:
            assert spec.ui.parent_of(obj) == parent
            assert (record.parent_type.model_class(), record.parent_id) == (type(parent), parent.pk)  # type: ignore[union-attr]

    def test_update_writes_one_record_with_the_changed_field(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        editor = city_data[spec.editor]
        obj = spec.make(city_data, "A")
        name, value = spec.change
        before = snapshot(obj)
        data = edit_form_data(spec.ui, obj, editor, **{name: value, "reason": REASON})
        with ChangeLog() as log:
            response = client_for(spec.editor).post(spec.page("edit", obj), data)
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        obj.refresh_from_db()
        (record,) = log.records
        assert record.action == ChangeRecord.Action.UPDATE
        assert (record.content_type.model_class(), record.object_id) == (spec.model, obj.pk)
        assert record.user == editor
        assert record.message == REASON
        assert record.diff() == {name: (before[name], snapshot(obj)[name])}
        form = spec.ui.form_class(data, instance=obj, user=editor, parent=spec.ui.parent_of(obj))
        assert model_value(obj, name) == field_value(form.fields[name], value)

    def test_unchanged_edit_writes_nothing(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        obj = spec.make(city_data, "A")
        before = snapshot(obj)
        data = edit_form_data(spec.ui, obj, city_data[spec.editor], reason=REASON)
        with ChangeLog() as log:
            response = client_for(spec.editor).post(spec.page("edit", obj), data)
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        assert log.records == []
        obj.refresh_from_db()
        assert snapshot(obj) == before

    def test_retire_writes_one_record_and_hides_the_row(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        obj = spec.make(city_data, "A")
        client = client_for(spec.editor)
        count = spec.model._default_manager.count()
        with ChangeLog() as log:
            response = client.post(spec.page("retire", obj), {"reason": REASON})
        assert response.status_code == 302
        (record,) = log.records
        assert record.action == ChangeRecord.Action.RETIRE
        assert (record.content_type.model_class(), record.object_id) == (spec.model, obj.pk)
        assert record.message == REASON
        assert record.user == city_data[spec.editor]
        assert set(record.diff()) == {"retired_at"}
        # nothing deleted
        assert spec.model._default_manager.count() == count
        obj.refresh_from_db()
        assert obj.retired_at is not None  # type: ignore[attr-defined]
        # hidden from the lists, still reachable
        list_url = spec.url("list")
        if list_url is not None:
            assert obj.pk not in {r.pk for r in listed(client.get(list_url, {"per_page": 100}))}
            assert obj.pk in {r.pk for r in listed(client.get(list_url, {"per_page": "100", "retired": "1"}))}
            assert spec.label(obj) not in xlsx_text(client.get(spec.page("export")))
        else:
            assert obj.pk not in {r.pk for r in spec.shown_on_parent(client, obj)}
        assert obj.pk not in api_ids(client.get(spec.api_url(), {"page_size": 1000}))
        assert client.get(spec.page("detail", obj)).status_code == 200
        # retiring twice is refused and writes nothing
        with ChangeLog() as log:
            client.post(spec.page("retire", obj), {"reason": REASON})
        assert log.records == []

    # the API writes the same history --------------------------------------------------------------------
    def test_api_create_update_and_delete_write_one_record_each(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        assert spec.api_create is not None, "give api_create in the spec"
        client = client_for(spec.editor)
        editor = city_data[spec.editor]
        payload = {**spec.api_create(city_data), "reason": REASON}
        with ChangeLog() as log:
            response = client.post(spec.api_url(), payload, content_type="application/json")
        assert response.status_code == 201, response.json()
        (record,) = log.records
        obj = spec.model._default_manager.get(pk=response.json()["id"])
        assert (record.action, record.object_id, record.user, record.message) == (
            ChangeRecord.Action.CREATE,
            obj.pk,
            editor,
            REASON,
        )
        assert record.after == snapshot(obj)
        assert record.request_id is not None and str(record.request_id) == response["X-Request-Id"]

        name, value = spec.api_change or spec.change
        before = snapshot(obj)
        with ChangeLog() as log:
            response = client.patch(
                spec.api_url(obj),
                {name: value},
                content_type="application/json",
                headers={"X-Change-Reason": REASON},
            )
        assert response.status_code == 200, response.json()
        obj.refresh_from_db()
        (record,) = log.records
        assert (record.action, record.message) == (ChangeRecord.Action.UPDATE, REASON)
        assert record.diff() == {name: (before[name], snapshot(obj)[name])}

        with ChangeLog() as log:
            response = client.delete(spec.api_url(obj), headers={"X-Change-Reason": REASON})
        assert response.status_code == 204
        (record,) = log.records
        assert (record.action, record.message) == (ChangeRecord.Action.RETIRE, REASON)
        obj.refresh_from_db()
        assert obj.retired_at is not None  # type: ignore[attr-defined]
        assert obj.pk not in api_ids(client.get(spec.api_url(), {"page_size": 1000}))

    # who may not ------------------------------------------------------------------------------------
    def test_anonymous_users_are_sent_to_login(self, city_data: World) -> None:
        spec = self.spec
        obj = spec.make(city_data, "A")
        client = Client()
        urls = [spec.url("list"), spec.url("export"), spec.url("add", parent=spec.parent(city_data, "A"))]
        urls += [spec.url(action, obj) for action in ("detail", "edit", "retire", "history")]
        count = spec.model._default_manager.count()
        with ChangeLog() as log:
            for url in filter(None, urls):
                assert is_login_redirect(client.get(url)), url
                assert is_login_redirect(client.post(url, {"reason": REASON})), url
            assert client.get(spec.api_url()).status_code in (401, 403)
            assert client.get(spec.api_url(obj)).status_code in (401, 403)
            assert client.post(spec.api_url(), {}, content_type="application/json").status_code in (401, 403)
            assert client.delete(spec.api_url(obj)).status_code in (401, 403)
        assert log.records == []
        assert spec.model._default_manager.count() == count

    def test_roles_without_the_permission_get_404(
        self, city_data: World, client_for: Callable[[str], Client]
    ) -> None:
        spec = self.spec
        assert spec.denied, "name at least one persona that lacks a permission"
        target = spec.target(city_data) if spec.target else spec.make(city_data, "A")
        parent = spec.ui.parent_of(target) if spec.ui.parent_field else None
        before = snapshot(target)
        count = spec.model._default_manager.count()
        create_data = spec.create_data(city_data)
        api_create = spec.api_create(city_data) if spec.api_create is not None else None
        with ChangeLog() as log:
            for persona, denied in spec.denied.items():
                client = client_for(persona)
                where = f"{persona} on {target}"
                view_status = 404 if VIEW in denied else 200
                assert client.get(spec.page("detail", target)).status_code == view_status, where
                assert client.get(spec.page("history", target)).status_code == view_status, where
                assert client.get(spec.api_url(target)).status_code == view_status, where
                if ADD in denied:
                    add_url = spec.page("add", parent=parent)
                    assert client.get(add_url).status_code == 404, where
                    assert client.post(add_url, create_data).status_code == 404, where
                    if api_create is not None:
                        response = client.post(spec.api_url(), api_create, content_type="application/json")
                        assert response.status_code == 404, where
                if CHANGE in denied:
                    edit_url = spec.page("edit", target)
                    name, value = spec.change
                    data = edit_form_data(spec.ui, target, city_data["city"], **{name: value})
                    assert client.get(edit_url).status_code == 404, where
                    assert client.post(edit_url, data).status_code == 404, where
                    name, value = spec.api_change or spec.change
                    response = client.patch(
                        spec.api_url(target), {name: value}, content_type="application/json"
                    )
                    assert response.status_code == 404, where
                if RETIRE in denied:
                    retire_url = spec.page("retire", target)
                    assert client.get(retire_url).status_code == 404, where
                    assert client.post(retire_url, {"reason": REASON}).status_code == 404, where
                    assert client.delete(spec.api_url(target)).status_code == 404, where
                if EXPORT in denied and spec.url("export") is not None:
                    assert client.get(spec.page("export")).status_code == 404, where
        assert log.records == []
        assert spec.model._default_manager.count() == count
        target.refresh_from_db()
        assert snapshot(target) == before
