"""Registrations: a bidder registers and sees its own; others see them only after opening."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding import submission
from bidding.models import Registration
from bidding.services import registration_create, registration_keys_set
from trading import policy, selectors
from trading.errors import DomainError


class RegistrationOut(serializers.ModelSerializer):
    section = serializers.CharField(source="section.public_id")
    bidder = serializers.SerializerMethodField()

    class Meta:
        model = Registration
        # No id: the registrations' sequence number counts every registration of the platform (SECRET-BIDDERS).
        fields = ["section", "bidder_code", "bidder", "created_at"]

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


class UploadOut(serializers.Serializer):
    id = serializers.UUIDField()
    size = serializers.IntegerField()
    received = serializers.IntegerField()
    status = serializers.CharField()


class BidOut(serializers.Serializer):
    section = serializers.CharField(source="registration.section.public_id")
    bidder_code = serializers.CharField(source="registration.bidder_code")
    digest = serializers.CharField()
    size = serializers.IntegerField()
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    receipt = serializers.JSONField()


class UploadCreate(APIView):
    """Start a resumable upload of a sealed envelope (declare its size)."""

    permission_classes = [permissions.IsAuthenticated]

    class UploadCreateInput(serializers.Serializer):
        size = serializers.IntegerField(min_value=1)

    @extend_schema(request=UploadCreateInput, responses={201: UploadOut})
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = self.UploadCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = submission.upload_create(actor=request.user, section=section, size=data.validated_data["size"])
        return Response(UploadOut(upload).data, status=status.HTTP_201_CREATED)


class RawBodyParser(BaseParser):
    """Leaves the body unread: the view streams it to disk in constant memory."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class UploadChunk(APIView):
    """GET: how much has arrived (to resume). PUT: bytes at `Upload-Offset`."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [RawBodyParser]

    @extend_schema(responses=UploadOut)
    def get(self, request, upload_id):
        return Response(UploadOut(submission.upload_get(actor=request.user, upload_id=upload_id)).data)

    @extend_schema(
        request={"application/octet-stream": bytes},
        parameters=[OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True)],
        responses=UploadOut,
    )
    def put(self, request, upload_id):
        offset, length = chunk_headers(request)
        upload = submission.upload_write(
            actor=request.user, upload_id=upload_id, offset=offset, stream=request._request, length=length
        )
        return Response(UploadOut(upload).data)


def chunk_headers(request) -> tuple[int, int]:
    try:
        return int(request.headers["Upload-Offset"]), int(request.headers["Content-Length"])
    except (KeyError, ValueError):
        raise DomainError(
            "INVALID", "Upload-Offset and Content-Length headers are required", fields={"Upload-Offset": "integer"}
        ) from None


class UploadChunkGate(APIView):
    """The checks of UploadChunk.put before a single byte is read, for the streaming endpoint
    (bidding/upload_stream.py): the same authentication, permissions, throttles and errors.
    Reached only through that endpoint's own URL conf, never from config.urls."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [RawBodyParser]

    def put(self, request, upload_id):
        offset, length = chunk_headers(request)
        request._request.upload_claim = submission.upload_claim(
            actor=request.user, upload_id=upload_id, offset=offset, length=length
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadFinalize(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={201: BidOut})
    def post(self, request, upload_id):
        bid = submission.upload_finalize(
            actor=request.user,
            upload_id=upload_id,
            client_ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(BidOut(bid).data, status=status.HTTP_201_CREATED)


class MyBid(APIView):
    """The bidder's own bid on a section: status and receipt."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=BidOut)
    def get(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        registration = submission.own_registration(actor=request.user, section=section)
        bid = submission.latest_bid(registration)
        if bid is None:
            raise Http404
        return Response(BidOut(bid).data)


class BidWithdraw(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses=BidOut)
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        return Response(BidOut(submission.bid_withdraw(actor=request.user, section=section)).data)


class InclusionOut(serializers.Serializer):
    root_hash = serializers.CharField()
    tree_size = serializers.IntegerField()
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())


class BidInclusion(APIView):
    """After the deadline: the proof that the bidder's bid is in the published sealed-bids root."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=InclusionOut)
    def get(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        registration = submission.own_registration(actor=request.user, section=section)
        bid = registration.bids.filter(status="active", sealed_leaf_index__isnull=False).first()
        if bid is None:
            raise Http404
        return Response(submission.bid_inclusion_proof(bid=bid))


class RegistrationKeys(APIView):
    """The bidder's own public keys for this registration (private keys never leave its machine)."""

    permission_classes = [permissions.IsAuthenticated]

    class RegistrationKeysInput(serializers.Serializer):
        signing_public_key = serializers.CharField()
        encryption_public_key = serializers.CharField()

    @extend_schema(request=RegistrationKeysInput, responses=RegistrationOut)
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        registration = submission.own_registration(actor=request.user, section=section)
        data = self.RegistrationKeysInput(data=request.data)
        data.is_valid(raise_exception=True)
        registration = registration_keys_set(actor=request.user, registration=registration, **data.validated_data)
        return Response(RegistrationOut(registration, context={"request": request}).data)
