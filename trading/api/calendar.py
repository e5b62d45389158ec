"""The working-day calendar: anyone reads it, exchange staff extend it each year."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed
from trading.models import CalendarDay, Role


class CalendarDayOut(serializers.ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name"]


class CalendarList(ListAPIView):
    serializer_class = CalendarDayOut
    filter_backends = []
    pagination_class = None

    def get_queryset(self):
        year = self.request.query_params.get("year", "")
        queryset = CalendarDay.objects.all()
        return queryset.filter(date__year=int(year)) if year.isdigit() else queryset


class CalendarSet(APIView):
    """Add or change one day (a holiday or an adjusted working day)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=CalendarDayOut, responses={201: CalendarDayOut})
    def post(self, request):
        if policy.role_of(request.user) != Role.STAFF:
            raise NotAllowed("NOT-ALLOWED", "只有交易中心工作人员可以维护日历。")
        data = CalendarDayOut(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            day, _created = CalendarDay.objects.update_or_create(
                date=data.validated_data["date"],
                defaults={"kind": data.validated_data["kind"], "name": data.validated_data.get("name", "")},
            )
            audit_append(
                event=AuditEvent.CALENDAR_CHANGED,
                actor=request.user,
                data={"date": day.date.isoformat(), "kind": day.kind, "name": day.name},
            )
        return Response(CalendarDayOut(day).data, status=status.HTTP_201_CREATED)
