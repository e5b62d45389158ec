"""The audit chain, open to anyone: entries (through the policy), checkpoints, proofs, the key."""

from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from trading import selectors, signing
from trading.audit import merkle
from trading.audit.log import checkpoint_document, entry_party
from trading.audit.models import AuditEntry, Checkpoint
from trading.errors import DomainError


class AuditEntryOut(serializers.ModelSerializer):
    """Everything the entry's leaf is made of (docs/audit.md), who acted as a commitment only: anyone recomputes
    `leaf_hash` from the answer and checks it against a checkpoint with an inclusion proof."""

    section = serializers.CharField(source="section_public_id")
    role = serializers.CharField(source="actor_role")
    party = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["index", "at", "role", "party", "section", "event", "data", "leaf_hash", "tree_root"]

    def get_party(self, entry) -> str | None:
        return entry_party(entry)


class AuditEntryList(ListAPIView):
    serializer_class = AuditEntryOut
    filter_backends = []

    def get_queryset(self):
        queryset = selectors.audit_entries_list(user=self.request.user)
        section = self.request.query_params.get("section")
        return queryset.filter(section_public_id=section) if section else queryset.order_by("-index")


class CheckpointOut(serializers.Serializer):
    log = serializers.CharField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    timestamp = serializers.CharField()
    signature = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField()
    timestamp_token = serializers.CharField()


class CheckpointList(APIView):
    @extend_schema(responses=CheckpointOut(many=True))
    def get(self, request):
        return Response([checkpoint_document(c) for c in Checkpoint.objects.all()[:200]])


class CheckpointLatest(APIView):
    @extend_schema(responses=CheckpointOut)
    def get(self, request):
        checkpoint = Checkpoint.objects.first()
        if checkpoint is None:
            raise Http404
        return Response(checkpoint_document(checkpoint))


class CheckpointDownload(APIView):
    """All checkpoints as one JSON file, to keep outside the platform."""

    @extend_schema(responses=CheckpointOut(many=True))
    def get(self, request):
        response = JsonResponse([checkpoint_document(c) for c in Checkpoint.objects.order_by("tree_size")], safe=False)
        response["Content-Disposition"] = 'attachment; filename="sunlight-checkpoints.json"'
        return response


def _leaf_hashes(size: int) -> list[bytes]:
    hashes = [
        bytes.fromhex(h) for h in AuditEntry.objects.filter(index__lt=size).order_by("index").values_list("leaf_hash", flat=True)
    ]
    if len(hashes) != size:
        raise DomainError("TREE-SIZE", f"the log has fewer than {size} entries")
    return hashes


def _int_param(request, name: str) -> int:
    try:
        value = int(request.query_params[name])
    except (KeyError, ValueError):
        raise DomainError("INVALID", f"{name} must be an integer", fields={name: "required integer"}) from None
    if value < 0:
        raise DomainError("INVALID", f"{name} must not be negative", fields={name: ">= 0"})
    return value


class InclusionProofOut(serializers.Serializer):
    index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    root_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())


class ConsistencyProofOut(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    first_root = serializers.CharField()
    second_root = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())


class PublicKeyOut(serializers.Serializer):
    algorithm = serializers.CharField()
    public_key = serializers.CharField()
    key_id = serializers.CharField()


class InclusionProof(APIView):
    @extend_schema(parameters=[OpenApiParameter("index", int), OpenApiParameter("tree_size", int)], responses=InclusionProofOut)
    def get(self, request):
        index, size = _int_param(request, "index"), _int_param(request, "tree_size")
        if index >= size:
            raise DomainError("INVALID", "index must be below tree_size", fields={"index": "< tree_size"})
        hashes = _leaf_hashes(size)
        return Response(
            {
                "index": index,
                "tree_size": size,
                "leaf_hash": hashes[index].hex(),
                "root_hash": merkle.root_from_leaf_hashes(hashes).hex(),
                "proof": [h.hex() for h in merkle.inclusion_proof(hashes, index)],
            }
        )


class ConsistencyProof(APIView):
    @extend_schema(parameters=[OpenApiParameter("first", int), OpenApiParameter("second", int)], responses=ConsistencyProofOut)
    def get(self, request):
        first, second = _int_param(request, "first"), _int_param(request, "second")
        if not 0 < first <= second:
            raise DomainError("INVALID", "need 0 < first <= second", fields={"first": "0 < first <= second"})
        hashes = _leaf_hashes(second)
        return Response(
            {
                "first": first,
                "second": second,
                "first_root": merkle.root_from_leaf_hashes(hashes[:first]).hex(),
                "second_root": merkle.root_from_leaf_hashes(hashes).hex(),
                "proof": [h.hex() for h in merkle.consistency_proof(hashes, first)],
            }
        )


class PublicKey(APIView):
    @extend_schema(responses=PublicKeyOut)
    def get(self, request):
        return Response(
            {"algorithm": "Ed25519", "public_key": signing.b64url(signing.public_key_raw()), "key_id": signing.key_id()}
        )
