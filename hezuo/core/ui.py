"""Declare a model's pages once; list, detail, edit, retire, history and export come from the generic views.

    class CooperativeUI(ModelUI):
        model = Cooperative
        form_class = CooperativeForm
        filterset_class = CooperativeFilterSet
        table_class = CooperativeTable

    urlpatterns = CooperativeUI().urls()

A child model (shown on its parent's page) sets `parent_field = "cooperative"` and `parent_ui`; its
add page is nested under the parent's URL. Every view gets its queryset from `ModelUI.queryset`,
which goes through the scoping chokepoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.db import models
from django.urls import URLPattern, path, reverse

from .export import Column
from .scoping import VIEW, restrict

REGISTRY: dict[str, ModelUI] = {}


class ModelUI:
    model: ClassVar[type[models.Model]]
    form_class: ClassVar[Any] = None
    filterset_class: ClassVar[Any] = None
    table_class: ClassVar[Any] = None
    export_columns: ClassVar[Sequence[Column]] = ()
    select_related: ClassVar[Sequence[str]] = ()
    parent_field: ClassVar[str | None] = None
    parent_ui: ClassVar[type[ModelUI] | None] = None
    detail_template: ClassVar[str] = "core/object_detail.html"
    list_template: ClassVar[str] = "core/object_list.html"
    edit_template: ClassVar[str] = "core/object_edit.html"
    search: ClassVar[Callable[..., Any] | None] = None
    # without a `search` function, the list's search box matches these fields (icontains)
    search_fields: ClassVar[Sequence[str]] = ()
    search_placeholder: ClassVar[Any] = ""
    # slug used in URLs, e.g. "cooperatives"; defaults to the model name + "s"
    slug: ClassVar[str] = ""
    # tab on the parent's page where a child's records show
    parent_tab: ClassVar[str] = ""
    has_list: ClassVar[bool] = True
    # fields the generic detail page leaves out (besides timestamps, and secrets such as a password)
    detail_exclude: ClassVar[Sequence[str]] = ()
    default_ordering: ClassVar[Sequence[str]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "model"):
            REGISTRY[cls.model._meta.label_lower] = cls()

    # names ---------------------------------------------------------------------------------
    @property
    def app_label(self) -> str:
        return self.model._meta.app_label

    @property
    def model_name(self) -> str:
        return self.model._meta.model_name or ""

    @property
    def url_slug(self) -> str:
        return self.slug or f"{self.model_name}s"

    def url_name(self, action: str) -> str:
        return f"{self.app_label}:{self.model_name}_{action}"

    def url(self, action: str, obj: models.Model | None = None, parent: models.Model | None = None) -> str:
        if obj is not None:
            return reverse(self.url_name(action), kwargs={"pk": obj.pk})
        if parent is not None:
            return reverse(self.url_name(action), kwargs={"parent_pk": parent.pk})
        return reverse(self.url_name(action))

    # data ------------------------------------------------------------------------------------
    def queryset(self, user: Any, action: str = VIEW) -> models.QuerySet:
        qs = self.model._default_manager.all()
        qs = restrict(qs, user, action)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        return qs

    def parent_of(self, obj: models.Model) -> models.Model | None:
        return getattr(obj, self.parent_field) if self.parent_field else None

    # urls ------------------------------------------------------------------------------------
    def urls(self) -> list[URLPattern]:
        from . import views  # views import this module

        name = self.model_name
        slug = self.url_slug
        patterns = []
        if self.has_list:
            patterns += [
                path(f"{slug}/", views.ObjectListView.as_view(ui=self), name=f"{name}_list"),
                path(f"{slug}/export/", views.ObjectExportView.as_view(ui=self), name=f"{name}_export"),
            ]
        if self.parent_field:
            assert self.parent_ui is not None
            parent_slug = self.parent_ui().url_slug
            patterns.append(
                path(
                    f"{parent_slug}/<int:parent_pk>/{slug}/add/",
                    views.ObjectEditView.as_view(ui=self),
                    name=f"{name}_add",
                )
            )
        else:
            patterns.append(path(f"{slug}/add/", views.ObjectEditView.as_view(ui=self), name=f"{name}_add"))
        patterns += [
            path(f"{slug}/<int:pk>/", views.ObjectDetailView.as_view(ui=self), name=f"{name}_detail"),
            path(f"{slug}/<int:pk>/edit/", views.ObjectEditView.as_view(ui=self), name=f"{name}_edit"),
            path(f"{slug}/<int:pk>/retire/", views.ObjectRetireView.as_view(ui=self), name=f"{name}_retire"),
            path(
                f"{slug}/<int:pk>/history/", views.ObjectHistoryView.as_view(ui=self), name=f"{name}_history"
            ),
        ]
        return patterns


def ui_for(model_or_obj: type[models.Model] | models.Model) -> ModelUI | None:
    return REGISTRY.get(model_or_obj._meta.label_lower)
