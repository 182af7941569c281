"""Generic views, parameterised by a ModelUI. Every one starts from `ui.queryset(user, action)`."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django_tables2 import RequestConfig

from .context import change_context
from .export import write_xlsx, xlsx_response
from .forms import ColumnsForm, ReasonMixin
from .history import field_changes
from .models import UserPreference
from .scoping import ADD, CHANGE, EXPORT, RETIRE, VIEW, can, get_scoped_or_404
from .services import ScopeViolation, history_for, retire_record, save_record, snapshot
from .ui import ModelUI, ui_for

PER_PAGE_CHOICES = (25, 50, 100)


class UIView(LoginRequiredMixin, View):
    ui: ModelUI = None  # type: ignore[assignment]
    raise_exception = False

    def get_object(self, action: str = VIEW) -> Any:
        return get_scoped_or_404(
            self.ui.queryset(self.request.user, action), self.request.user, action, pk=self.kwargs["pk"]
        )

    def base_context(self, **extra: Any) -> dict[str, Any]:
        model = self.ui.model
        context = {
            "ui": self.ui,
            "verbose_name": model._meta.verbose_name,
            "verbose_name_plural": model._meta.verbose_name_plural,
            "can_add": can(self.request.user, model, ADD),
            "can_export": can(self.request.user, model, EXPORT),
        }
        context.update(extra)
        return context


def filtered_queryset(ui: ModelUI, request: HttpRequest, action: str) -> tuple[QuerySet, Any]:
    """The list's rows for this request: scope, then retired or not, filters, search, ordering."""
    qs = ui.queryset(request.user, action)
    if request.GET.get("retired") != "1" and hasattr(ui.model, "retired_at"):
        qs = qs.filter(retired_at__isnull=True)
    filterset = None
    if ui.filterset_class is not None:
        filterset = ui.filterset_class(request.GET or None, queryset=qs, request=request)
        if filterset.is_bound:
            # an invalid filter (the page shows its message) selects nothing rather than everything: an
            # export or a count never silently ignores a condition the user typed
            qs = filterset.qs if filterset.is_valid() else qs.none()
    query = request.GET.get("q", "").strip()
    if query and ui.search is None and ui.search_fields:
        condition = Q()
        for name in ui.search_fields:
            condition |= Q(**{f"{name}__icontains": query})
        qs = qs.filter(condition)
    elif query and ui.search is not None:
        qs = ui.search(qs, query)
        if not request.GET.get("sort"):
            qs = qs.order_by("search_rank", *(ui.default_ordering or ui.model._meta.ordering or ["pk"]))
    elif ui.default_ordering and not request.GET.get("sort"):
        qs = qs.order_by(*ui.default_ordering)
    return qs, filterset


def column_pref_key(ui: ModelUI) -> str:
    return f"columns:{ui.model._meta.label_lower}"


class ObjectListView(UIView):
    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not can(request.user, self.ui.model, VIEW):
            raise Http404
        qs, filterset = filtered_queryset(self.ui, request, VIEW)
        table_class = self.ui.table_class
        all_columns = table_class.column_choices()
        pref = UserPreference.objects.filter(
            user_id=cast(int, request.user.pk), key=column_pref_key(self.ui)
        ).first()
        chosen = pref.value.get("columns") if pref else None
        if not chosen:
            chosen = table_class.default_columns()
        exclude = [
            name for name, _label in all_columns if name not in chosen and name not in table_class.fixed
        ]
        # per_page_field: the page size checked below, not the raw parameter django-tables2 would read itself;
        # no request here: RequestConfig below configures (and paginates) the table once
        table = table_class(qs, exclude=exclude, user=request.user, per_page_field="_unchecked_per_page")
        try:
            per_page = int(request.GET.get("per_page", 25))
        except ValueError:
            per_page = 25
        per_page = per_page if per_page in PER_PAGE_CHOICES else 25
        RequestConfig(request, paginate={"per_page": per_page}).configure(table)
        query = request.GET.copy()
        query.pop("page", None)
        context = self.base_context(
            table=table,
            filterset=filterset,
            columns_form=ColumnsForm(initial={"columns": chosen}, choices=all_columns),
            query=request.GET.get("q", ""),
            querystring=query.urlencode(),
            per_page=per_page,
            per_page_choices=PER_PAGE_CHOICES,
            show_retired=request.GET.get("retired") == "1",
        )
        return render(request, self.ui.list_template, context)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Save the user's choice of columns."""
        if not can(request.user, self.ui.model, VIEW):
            raise Http404
        table_class = self.ui.table_class
        form = ColumnsForm(request.POST, choices=table_class.column_choices())
        if form.is_valid():
            UserPreference.objects.update_or_create(
                user_id=cast(int, request.user.pk),
                key=column_pref_key(self.ui),
                defaults={"value": {"columns": form.cleaned_data["columns"]}},
            )
        return HttpResponseRedirect(request.get_full_path())


class ObjectExportView(UIView):
    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        if not can(request.user, self.ui.model, EXPORT):
            raise Http404
        qs, _filterset = filtered_queryset(self.ui, request, EXPORT)
        limit = settings.HEZUO_EXPORT_MAX_ROWS
        if qs.count() > limit:
            messages.error(
                request, _("The export is limited to %(n)d rows; narrow the filters.") % {"n": limit}
            )
            return redirect(f"{self.ui.url('list')}?{request.GET.urlencode()}")
        handle = write_xlsx(
            qs.iterator(chunk_size=2000), self.ui.export_columns, str(self.ui.model._meta.verbose_name_plural)
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return xlsx_response(handle, f"{self.ui.url_slug}-{stamp}.xlsx")


# fields no page shows, whoever looks (a password's hash is a secret even to city staff)
NEVER_SHOWN = ("password",)


class ObjectDetailView(UIView):
    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(VIEW)
        return render(request, self.ui.detail_template, self.detail_context(obj))

    def detail_context(self, obj: Any) -> dict[str, Any]:
        user = self.request.user
        can_change = self.ui.queryset(user, CHANGE).filter(pk=obj.pk).exists()
        retirable = hasattr(obj, "retired_at")
        can_retire = retirable and self.ui.queryset(user, RETIRE).filter(pk=obj.pk).exists()
        from .history import display_value

        hidden = {"created_at", "updated_at", *NEVER_SHOWN, *self.ui.detail_exclude}
        fields = [
            (
                f.verbose_name,
                display_value(f, getattr(obj, f.name) if f.is_relation else f.value_from_object(obj)),
            )
            for f in obj._meta.concrete_fields
            if f.editable and not f.primary_key and f.name not in hidden
        ]
        return self.base_context(
            object=obj,
            fields=fields,
            can_change=can_change,
            can_retire=can_retire and obj.retired_at is None,
            parent=self.ui.parent_of(obj),
            tab=self.request.GET.get("tab", ""),
        )


class ObjectEditView(UIView):
    def setup_objects(self) -> tuple[Any, Any]:
        user = self.request.user
        if "pk" in self.kwargs:
            obj = self.get_object(CHANGE)
            return obj, self.ui.parent_of(obj)
        if not can(user, self.ui.model, ADD):
            raise Http404
        parent = None
        if self.ui.parent_field:
            assert self.ui.parent_ui is not None
            parent_ui = ui_for(self.ui.parent_ui.model)
            assert parent_ui is not None
            parent = get_scoped_or_404(
                parent_ui.queryset(user, VIEW), user, VIEW, pk=self.kwargs["parent_pk"]
            )
        return None, parent

    def make_form(self, obj: Any, parent: Any, data: Any = None, files: Any = None) -> Any:
        return self.ui.form_class(data, files, instance=obj, user=self.request.user, parent=parent)

    def render_form(self, form: Any, obj: Any, parent: Any) -> HttpResponse:
        return render(
            self.request, self.ui.edit_template, self.base_context(form=form, object=obj, parent=parent)
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj, parent = self.setup_objects()
        return self.render_form(self.make_form(obj, parent), obj, parent)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj, parent = self.setup_objects()
        before = snapshot(obj) if obj is not None else None
        form = self.make_form(obj, parent, request.POST, request.FILES)
        if form.is_valid():
            instance = form.save(commit=False)
            try:
                with change_context(user=request.user, reason=form.cleaned_data.get("reason", "")):
                    record = save_record(instance, before=before, validate=False)
            except ScopeViolation:
                form.add_error(
                    None, _("You cannot save this: the record would leave your scope. Nothing was saved.")
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except PermissionDenied:
                raise Http404 from None
            else:
                if hasattr(form, "save_m2m"):
                    form.save_m2m()
                if record is None:
                    messages.info(request, _("Nothing changed."))
                else:
                    messages.success(request, _("Saved: %(obj)s") % {"obj": instance})
                return redirect(self.success_url(instance))
        return self.render_form(form, obj, parent)

    def success_url(self, instance: Any) -> str:
        parent = self.ui.parent_of(instance)
        if parent is not None:
            parent_ui = ui_for(parent)
            if parent_ui is not None:
                return parent_ui.url("detail", parent) + (
                    f"?tab={self.ui.parent_tab}" if self.ui.parent_tab else ""
                )
        return self.ui.url("detail", instance)


class ObjectRetireView(UIView):
    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(RETIRE)
        return render(request, "core/object_retire.html", self.base_context(object=obj, form=ReasonMixin()))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(RETIRE)
        form = ReasonMixin(request.POST)
        if not form.is_valid():
            return render(request, "core/object_retire.html", self.base_context(object=obj, form=form))
        try:
            with change_context(user=request.user, reason=form.cleaned_data["reason"]):
                retire_record(obj)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Retired: %(obj)s") % {"obj": obj})
        parent = self.ui.parent_of(obj)
        parent_ui = ui_for(parent) if parent is not None else None
        if parent_ui is not None:
            return redirect(
                parent_ui.url("detail", parent) + (f"?tab={self.ui.parent_tab}" if self.ui.parent_tab else "")
            )
        return redirect(self.ui.url("detail", obj))


class ObjectHistoryView(UIView):
    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.get_object(VIEW)
        paginator = Paginator(history_for(obj), 30)
        page = paginator.get_page(request.GET.get("page"))
        entries = [(record, field_changes(record, request.user)) for record in page.object_list]
        template = getattr(self.ui, "history_template", "core/object_history.html")
        return render(
            request,
            template,
            self.base_context(
                object=obj,
                page=page,
                entries=entries,
                parent=self.ui.parent_of(obj),
                tab="history",
                can_change=self.ui.queryset(request.user, CHANGE).filter(pk=obj.pk).exists(),
                can_retire=hasattr(obj, "retired_at")
                and obj.retired_at is None
                and self.ui.queryset(request.user, RETIRE).filter(pk=obj.pk).exists(),
                tabs=getattr(self.ui, "tabs", None),
            ),
        )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from hezuo.core.home import home_context

    context = home_context(request)
    if "redirect" in context:
        return redirect(context["redirect"])
    return render(request, "core/home.html", context)


def querystring(params: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})
