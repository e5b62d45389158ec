"""Supervision API: alerts and rules (supervisors), statistics and OCDS open data (everyone)."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from trading import policy
from trading import selectors as trading_selectors
from trading.errors import NotAllowed
from trading.supervision import opendata, selectors, statistics
from trading.supervision.registry import REGISTRY


class AlertList(APIView):
    class SupervisionAlertOut(serializers.Serializer):
        id = serializers.IntegerField()
        rule = serializers.CharField()
        severity = serializers.CharField()
        step = serializers.CharField()
        message = serializers.CharField()
        blocked = serializers.BooleanField()
        status = serializers.CharField()
        section = serializers.CharField(source="section.public_id", allow_null=True, default=None)
        audit_index = serializers.IntegerField(allow_null=True)
        bidder_codes = serializers.SerializerMethodField()
        created_at = serializers.DateTimeField()

        def get_bidder_codes(self, alert) -> list[str]:
            return selectors.alert_codes_shown(alert)

    @extend_schema(responses=SupervisionAlertOut(many=True))
    def get(self, request):
        if not policy.can_read_supervision(request.user):
            raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以查看预警。"))
        return Response(self.SupervisionAlertOut(selectors.alerts_list(user=request.user)[:500], many=True).data)


class RuleList(APIView):
    class RuleOut(serializers.Serializer):
        code = serializers.CharField()
        title = serializers.CharField()
        basis = serializers.CharField()
        step = serializers.CharField()
        severity = serializers.CharField()
        blocks = serializers.BooleanField()
        owner = serializers.CharField()
        checked = serializers.BooleanField()

    permission_classes = [AllowAny]

    @extend_schema(responses=RuleOut(many=True))
    def get(self, request):
        """The monitoring nodes: public, like RULES.md itself."""
        rules = sorted(REGISTRY.values(), key=lambda r: r.code)
        return Response(self.RuleOut(rules, many=True).data)


class SectionRuleStatus(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        rows = selectors.rule_status(user=request.user, section=section)
        return Response([{"code": r.rule.code, "step": r.rule.step, "status": r.status, "alerts": r.alerts} for r in rows])


class Statistics(APIView):
    permission_classes = [AllowAny]

    class Query(serializers.Serializer):
        period = serializers.ChoiceField(choices=statistics.PERIODS, default="month")
        transaction_type = serializers.CharField(required=False, default="")
        region = serializers.CharField(required=False, default="")

    @extend_schema(parameters=[Query], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        query = self.Query(data=request.query_params)
        query.is_valid(raise_exception=True)
        groups = statistics.statistics_compute(**query.validated_data)
        return Response([_group(g) for g in groups])


def _group(group) -> dict:
    names = [name for name, _label in statistics.CSV_COLUMNS]
    return {name: (str(v) if hasattr(v, "quantize") else v) for name in names for v in [getattr(group, name)]}


class OcdsSectionReleases(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, public_id):
        section = _published(public_id)
        return Response(opendata.release_package([section], uri=request.build_absolute_uri()))


class OcdsSectionRecord(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, public_id):
        section = _published(public_id)
        return Response(opendata.record_package([section], uri=request.build_absolute_uri()))


class OcdsReleases(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(opendata.release_package(opendata.published_sections(), uri=request.build_absolute_uri()))


def _published(public_id: str):
    section = opendata.published_sections().filter(public_id=public_id).first()
    if section is None:
        raise Http404
    return section
