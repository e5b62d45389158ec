"""Registrations: a bidder registers and sees its own; others see them only after opening."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding.models import Registration
from bidding.services import registration_create
from trading import policy, selectors


class RegistrationOut(serializers.ModelSerializer):
    section = serializers.CharField(source="section.public_id")
    bidder = serializers.SerializerMethodField()

    class Meta:
        model = Registration
        fields = ["id", "section", "bidder_code", "bidder", "created_at"]

    def get_bidder(self, registration) -> str:
        return policy.bidder_label(self.context["request"].user, registration)


class MyRegistrations(ListAPIView):
    serializer_class = RegistrationOut
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []

    def get_queryset(self):
        return selectors.registrations_list(user=self.request.user).filter(organization_id=self.request.user.organization_id)


class SectionRegistrations(APIView):
    """Listing goes through the policy: before opening, nobody but the bidder sees any."""

    @extend_schema(responses=RegistrationOut(many=True))
    def get(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        registrations = selectors.registrations_list(user=request.user, section=section)
        return Response(RegistrationOut(registrations, many=True, context={"request": request}).data)


class RegistrationCreate(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class RegistrationCreateInput(serializers.Serializer):
        contact_name = serializers.CharField(max_length=100)
        contact_phone = serializers.RegexField(r"^[0-9+\- ]{5,32}$")
        qualifications = serializers.JSONField(required=False)
        signing_public_key = serializers.CharField(required=False, allow_blank=True)
        encryption_public_key = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=RegistrationCreateInput, responses={201: RegistrationOut})
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = self.RegistrationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        registration = registration_create(actor=request.user, section=section, **data.validated_data)
        return Response(RegistrationOut(registration, context={"request": request}).data, status=status.HTTP_201_CREATED)
