"""Fieldwork endpoints: flags, cleanup cases (with their transitions), detection runs and rule sets.

All read through the scoping chokepoint; transitions go through the same service functions as the pages
(POST /api/cleanup-cases/<id>/<transition>/). A transition the role may not make answers 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from hezuo.core.api import RecordSerializer, ScopedViewSet

from . import cleanup
from .forms import make_form
from .models import Campaign, CampaignTarget, CleanupCase, ContactNote, DetectionRun, Flag, RuleSet, Visit

if TYPE_CHECKING:
    from hezuo.accounts.models import User

READ_ONLY = ["get", "head", "options"]


@contextmanager
def service_errors() -> Iterator[None]:
    """A service function's refusals as the API gives them: out of reach or role → 404; bad values → 400
    naming the fields (non_field_errors for the record as a whole)."""
    try:
        yield
    except PermissionDenied as exc:
        raise NotFound() from exc
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ValidationError(detail) from exc


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = [
            "id", "cooperative", "rule", "kind", "year", "evidence", "explanation", "ruleset", "run",
            "status", "case", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class CleanupCaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CleanupCase
        exclude = ["retired_at"]
        read_only_fields = [f.name for f in CleanupCase._meta.concrete_fields]


class DetectionRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRun
        exclude = ["retired_at"]


class RuleSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleSet
        exclude = ["retired_at"]


class FlagViewSet(ScopedViewSet):
    """Shell and dormant flags in the caller's scope (never a verdict)."""

    model = Flag
    serializer_class = FlagSerializer
    filterset_fields = ["cooperative", "status", "kind", "rule", "year"]
    select_related = ("cooperative",)
    http_method_names = READ_ONLY


class TransitionSerializer(serializers.Serializer):
    """The fields of the transition (see the case page's forms)."""

    finding = serializers.CharField(required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    visit_date = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True)
    action_date = serializers.DateField(required=False)
    referral_date = serializers.DateField(required=False)
    referral_authority = serializers.CharField(required=False)
    referral_document = serializers.CharField(required=False)


class CleanupCaseViewSet(ScopedViewSet):
    """Cleanup cases in the caller's scope; POST …/<transition>/ (verify, clear, approve, carry_out…)."""

    model = CleanupCase
    serializer_class = CleanupCaseSerializer
    filterset_fields = ["cooperative", "status"]
    select_related = ("cooperative",)
    http_method_names = [*READ_ONLY, "post"]

    @extend_schema(exclude=True)
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    @extend_schema(operation_id="cleanup_cases_transition", responses=CleanupCaseSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"(?P<transition>[a-z_]+)",
        serializer_class=TransitionSerializer,
    )
    def transition(self, request: Request, pk: Any = None, transition: str = "") -> Response:
        if transition not in cleanup.TRANSITIONS:
            raise NotFound()
        # a case out of reach: 404; one the caller sees but may not move: 403 with the reason
        self.action = "retrieve"
        case = self.get_object()
        refused = cleanup.refusal(request.user, transition, case)
        if refused:
            raise PermissionDenied(refused)
        form = make_form(transition, case, request.user, request.data)
        if not form.is_valid():
            raise ValidationError(form.errors)  # type: ignore[arg-type]  # ErrorList iterates as messages (str)
        data = dict(form.cleaned_data)
        if transition == "verify":
            kwargs = {
                "finding": data["finding"],
                "note": data["note"],
                "visit_date": data["visit_date"],
                "visit": data["visit"],
            }
        elif transition == "clear":
            kwargs = {"reason": data["reason"]}
        elif transition == "carry_out":
            kwargs = data
        else:
            kwargs = {"note": data["note"]}
        with service_errors():
            case = getattr(cleanup, transition)(case, request.user, **kwargs)
        return Response(CleanupCaseSerializer(case, context=self.get_serializer_context()).data)


class VisitSerializer(serializers.ModelSerializer):
    photo_urls = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        exclude = ["retired_at"]

    def get_photo_urls(self, obj: Visit) -> list[str]:
        """The visit's photos, in order (served only within the caller's scope)."""
        return [
            photo.get_absolute_url() for photo in obj.photos.all() if photo.retired_at is None and photo.image
        ]


class VisitViewSet(ScopedViewSet):
    """Visits in the caller's scope (recorded on the phone form); photos are served by their page."""

    model = Visit
    serializer_class = VisitSerializer
    filterset_fields = ["cooperative", "classification", "visitor"]
    select_related = ("cooperative",)
    http_method_names = READ_ONLY

    def get_queryset(self) -> Any:
        return super().get_queryset().prefetch_related("photos")


class DetectionRunViewSet(ScopedViewSet):
    model = DetectionRun
    serializer_class = DetectionRunSerializer
    filterset_fields = ["year", "status"]
    http_method_names = READ_ONLY


class RuleSetViewSet(ScopedViewSet):
    model = RuleSet
    serializer_class = RuleSetSerializer
    http_method_names = READ_ONLY


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        exclude = ["retired_at"]
        read_only_fields = [f.name for f in Campaign._meta.concrete_fields]

    def to_representation(self, instance: Campaign) -> dict[str, Any]:
        from .campaigns import whole_reach

        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not whole_reach(request.user, instance):
            # a district's part of a city campaign: the city-wide figure is not theirs to see
            data["target_count"] = (
                CampaignTarget.objects.restrict(request.user, "view")
                .filter(campaign=instance, retired_at__isnull=True)
                .count()
            )
        return data


class CampaignOpenSerializer(serializers.Serializer):
    """Opening a campaign: `rule` is the selection rule (see hezuo/fieldwork/campaigns.py)."""

    name = serializers.CharField(max_length=200)
    district = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="code")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    rule = serializers.JSONField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CampaignChangeSerializer(serializers.Serializer):
    """Changing a campaign: any of its name, period end and note; `reason` goes into the history."""

    name = serializers.CharField(max_length=200, required=False)
    end_date = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class CampaignCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CampaignViewSet(ScopedViewSet):
    """Survey campaigns in the caller's reach (a city campaign: every district, for its own part).
    POST opens one (city staff; district staff for their district); PATCH changes its name, period end or
    note; POST …/cancel/ cancels it (with a reason); GET …/progress/ gives the table."""

    model = Campaign
    serializer_class = CampaignSerializer
    filterset_fields = ["district"]
    select_related = ("district",)
    http_method_names = [*READ_ONLY, "post", "patch"]

    def _managed(self, action_name: str) -> Campaign:
        from .campaigns import may_manage

        campaign = self.get_object()
        if not may_manage(self.request.user, campaign, action_name):
            raise NotFound()
        return campaign

    @extend_schema(request=CampaignChangeSerializer, responses=CampaignSerializer)
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        from .campaigns import change_campaign

        campaign = self._managed("change")
        incoming = CampaignChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        with service_errors():
            change_campaign(
                request.user,
                campaign,
                name=data.get("name", campaign.name),
                end_date=data.get("end_date", campaign.end_date),
                note=data.get("note", campaign.note),
                reason=data.get("reason", ""),
            )
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data)

    @extend_schema(
        operation_id="campaigns_cancel", request=CampaignCancelSerializer, responses=CampaignSerializer
    )
    @action(detail=True, methods=["post"], serializer_class=CampaignCancelSerializer)
    def cancel(self, request: Request, pk: Any = None) -> Response:
        from .campaigns import cancel_campaign

        campaign = self._managed("retire")
        incoming = CampaignCancelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            cancel_campaign(request.user, campaign, reason=incoming.validated_data["reason"])
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data)

    @extend_schema(request=CampaignOpenSerializer, responses=CampaignSerializer)
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        from hezuo.geo.models import Division

        from .campaigns import may_open, open_campaign

        if not may_open(request.user):
            raise NotFound()
        incoming = CampaignOpenSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        district = None
        if data.get("district"):
            district = Division.objects.filter(code=data["district"], level=Division.Level.DISTRICT).first()
            if district is None:
                raise ValidationError({"district": [_("No district with this code.")]})
        with service_errors():
            campaign = open_campaign(
                request.user,
                name=data["name"],
                district=district,
                start_date=data["start_date"],
                end_date=data["end_date"],
                rule=data["rule"],
                note=data.get("note", ""),
            )
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data, status=201)

    @extend_schema(operation_id="campaigns_progress", responses=dict[str, Any])
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: Any = None) -> Response:
        from dataclasses import asdict

        from .campaigns import progress

        campaign = self.get_object()
        table = progress(campaign, request.user)

        def row(r: Any) -> dict[str, Any]:
            return {**asdict(r), "share": r.share}

        return Response(
            {
                "total": row(table["total"]),
                "districts": [row(r) for r in table["districts"]],
                "counselors": [row(r) for r in table["counselors"]],
            }
        )


class CampaignTargetSerializer(serializers.ModelSerializer):
    visited_on = serializers.DateField(read_only=True, allow_null=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = CampaignTarget
        fields = ["id", "campaign", "cooperative", "matched", "visited_on", "status", "created_at"]
        read_only_fields = fields

    def get_status(self, obj: CampaignTarget) -> str:
        from django.utils import timezone

        from .campaigns import target_status

        return target_status(getattr(obj, "visited_on", None), obj.campaign.end_date, timezone.localdate())


class CampaignTargetViewSet(ScopedViewSet):
    """The cooperatives of campaigns, in the caller's reach, with their first visit in the period."""

    model = CampaignTarget
    serializer_class = CampaignTargetSerializer
    filterset_fields = ["campaign", "cooperative"]
    select_related = ("campaign",)
    http_method_names = READ_ONLY

    def get_queryset(self) -> Any:
        from django.db.models import Min, Subquery

        from .campaigns import visits_in_period

        first = (
            visits_in_period(self.request.user).order_by().values("cooperative_id").annotate(d=Min("date"))
        )
        return super().get_queryset().annotate(visited_on=Subquery(first.values("d")[:1]))


class ContactNoteSerializer(RecordSerializer):
    author: serializers.StringRelatedField[User] = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = ContactNote
        exclude = ["retired_at"]
        read_only_fields = ["author", "created_at", "updated_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hezuo.core.scoping import VIEW
        from hezuo.registry.models import Cooperative

        request = self.context.get("request")
        field = self.fields.get("cooperative")
        if request is not None and field is not None:
            assert isinstance(field, serializers.RelatedField)
            field.queryset = Cooperative.objects.restrict(request.user, VIEW)

    def prepare_instance(self, instance: Any) -> None:
        request = self.context.get("request")
        if request is not None and not instance.author_id:
            instance.author = request.user


class ContactNoteViewSet(ScopedViewSet):
    """The contact log (calls, meetings, messages) of cooperatives in the caller's reach; POST adds a note
    (district and city staff, counselors for their cooperatives)."""

    model = ContactNote
    serializer_class = ContactNoteSerializer
    filterset_fields = ["cooperative", "kind"]
    select_related = ("cooperative", "author")
    http_method_names = [*READ_ONLY, "post"]


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("flags", FlagViewSet, basename="flag")
    router.register("cleanup-cases", CleanupCaseViewSet, basename="cleanupcase")
    router.register("visits", VisitViewSet, basename="visit")
    router.register("detection-runs", DetectionRunViewSet, basename="detectionrun")
    router.register("detection-rulesets", RuleSetViewSet, basename="ruleset")
    router.register("campaigns", CampaignViewSet, basename="campaign")
    router.register("campaign-cooperatives", CampaignTargetViewSet, basename="campaigntarget")
    router.register("contact-notes", ContactNoteViewSet, basename="contactnote")
