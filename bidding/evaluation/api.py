"""Evaluation API: one view per operation; reads through selectors, writes through services."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding.evaluation import selectors
from bidding.evaluation.services import expert_keys
from bidding.evaluation.services.scoring import scores_statement, scores_submit
from trading import selectors as trading_selectors
from trading.errors import NotAllowed


class CommitteeSeatOut(serializers.Serializer):
    seat = serializers.IntegerField()
    specialty = serializers.CharField()
    source = serializers.CharField()
    status = serializers.CharField()
    code = serializers.CharField()
    name = serializers.CharField()


class SupplementOut(serializers.Serializer):
    """A supplementary round (补充抽取): re-run with its own seed and list after the first ones."""

    round = serializers.IntegerField()
    seats = serializers.ListField(child=serializers.IntegerField())
    candidates = serializers.JSONField()
    candidates_digest = serializers.CharField()
    commitment = serializers.CharField()
    seed = serializers.CharField(allow_blank=True)


class DrawRecordOut(serializers.Serializer):
    """The published draw: enough for anyone to re-run it once the seed is revealed."""

    status = serializers.CharField(source="draw.status")
    size = serializers.IntegerField(source="draw.size")
    rules = serializers.JSONField(source="draw.rules")
    candidates = serializers.JSONField(source="draw.candidates")
    candidates_digest = serializers.CharField(source="draw.candidates_digest")
    commitment = serializers.CharField(source="draw.commitment")
    seed = serializers.CharField()
    replacements = serializers.SerializerMethodField()
    supplements = SupplementOut(many=True)
    seats = CommitteeSeatOut(many=True)

    def get_replacements(self, record) -> list:
        return record.draw.replacements if record.seed else []


class DrawRecord(APIView):
    @extend_schema(responses=DrawRecordOut)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        record = selectors.draw_record(user=request.user, section=section)
        if record is None:
            raise NotAllowed("EVAL-NO-DRAW", "no draw yet")
        return Response(DrawRecordOut(record).data)


class MySeats(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class ExpertSeatOut(serializers.Serializer):
        id = serializers.IntegerField()
        section = serializers.CharField(source="draw.section.public_id")
        seat = serializers.IntegerField()
        status = serializers.CharField()
        session_started = serializers.SerializerMethodField()

        def get_session_started(self, member) -> bool:
            return member.draw.session_started_at is not None

    @extend_schema(responses=ExpertSeatOut(many=True))
    def get(self, request):
        return Response(self.ExpertSeatOut(selectors.my_seats(user=request.user).order_by("-invited_at"), many=True).data)


class ExpertScoresIn(serializers.Serializer):
    scores = serializers.DictField(child=serializers.DictField())
    rejections = serializers.DictField(child=serializers.DictField(), required=False, default=dict)
    dissent = serializers.CharField(required=False, allow_blank=True, default="")


class ScoresStatement(APIView):
    """The canonical statement of these scores, checked, for the expert to sign with its own key; nothing is stored."""

    permission_classes = [permissions.IsAuthenticated]

    class StatementOut(serializers.Serializer):
        statement = serializers.CharField()
        label = serializers.CharField(help_text="sign UTF-8(label + statement) with ECDSA P-256 / SHA-256")

    @extend_schema(request=ExpertScoresIn, responses=StatementOut)
    def post(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        data = ExpertScoresIn(data=request.data)
        data.is_valid(raise_exception=True)
        statement = scores_statement(user=request.user, draw=selectors.draw_of(section), **data.validated_data)
        return Response({"statement": statement.decode(), "label": expert_keys.STATEMENT_LABEL.decode()})


class ScoresSubmit(APIView):
    """An expert's scores for every valid bid, signed by the expert's own key and countersigned by the platform."""

    permission_classes = [permissions.IsAuthenticated]

    class SignedScoresIn(ExpertScoresIn):
        expert_signature = serializers.CharField(required=False, allow_blank=True, default="")

    class ScoreSubmissionOut(serializers.Serializer):
        seat = serializers.IntegerField(source="member.seat")
        canonical_sha256 = serializers.CharField()
        signature = serializers.CharField()
        key_id = serializers.CharField()
        expert_signature = serializers.CharField()
        expert_key = serializers.CharField()
        submitted_at = serializers.DateTimeField()

    @extend_schema(request=SignedScoresIn, responses={201: ScoreSubmissionOut})
    def post(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        data = self.SignedScoresIn(data=request.data)
        data.is_valid(raise_exception=True)
        submission = scores_submit(user=request.user, draw=selectors.draw_of(section), **data.validated_data)
        return Response(self.ScoreSubmissionOut(submission).data, status=status.HTTP_201_CREATED)


class ExpertSigningKey(APIView):
    """The signed-in expert registers the public key its browser made (or a new one, its old key lost)."""

    permission_classes = [permissions.IsAuthenticated]

    class KeyIn(serializers.Serializer):
        signing_public_key = serializers.CharField()

    class KeyOut(serializers.Serializer):
        code = serializers.CharField()
        signing_public_key = serializers.CharField()
        signing_key_registered_at = serializers.DateTimeField()

    @extend_schema(request=KeyIn, responses=KeyOut)
    def post(self, request):
        data = self.KeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        expert = expert_keys.expert_key_register(user=request.user, public_key=data.validated_data["signing_public_key"])
        return Response(self.KeyOut(expert).data)


class CollusionFlags(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class CollusionFlagOut(serializers.Serializer):
        kind = serializers.CharField()
        bidder_codes = serializers.ListField(child=serializers.CharField())
        evidence = serializers.JSONField()
        found_at = serializers.DateTimeField()

    @extend_schema(responses=CollusionFlagOut(many=True))
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        return Response(self.CollusionFlagOut(selectors.flags_list(user=request.user, section=section), many=True).data)
