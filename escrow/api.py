"""Deposit API: one view per operation; reads through escrow.selectors, writes through escrow.services."""

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow import selectors
from escrow.gateways import simulated
from escrow.gateways.simulated import ACK, SIGNATURE_HEADER
from escrow.models import Deposit
from escrow.services.deposits import BANK_NAME, deposit_cutoff, deposit_forfeit, deposit_payment_order, deposit_terms_set
from escrow.services.payments import notification_receive, statement_import
from trading import policy
from trading import selectors as trading_selectors
from trading.errors import NotAllowed, TransitionError


class DepositOut(serializers.Serializer):
    """The bidder's own deposit: where to pay, how much, by when, and what arrived."""

    section = serializers.CharField(source="registration.section.public_id")
    bidder_code = serializers.CharField(source="registration.bidder_code")
    bank = serializers.SerializerMethodField()
    virtual_account = serializers.CharField()
    amount_due_fen = serializers.IntegerField()
    cutoff_at = serializers.SerializerMethodField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    counts = serializers.BooleanField()
    paid_fen = serializers.IntegerField()
    interest_fen = serializers.IntegerField()
    paid_at = serializers.DateTimeField()
    refunded_fen = serializers.IntegerField()
    refunded_at = serializers.DateTimeField()
    forfeited_fen = serializers.IntegerField()
    forfeited_at = serializers.DateTimeField()

    def get_bank(self, deposit) -> str:
        return str(BANK_NAME)

    def get_cutoff_at(self, deposit) -> str | None:
        cutoff = deposit_cutoff(deposit.registration.section)
        return serializers.DateTimeField().to_representation(cutoff) if cutoff else None


class MyDeposit(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=DepositOut)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        return Response(DepositOut(selectors.deposit_own(user=request.user, section=section)).data)


class DepositPay(APIView):
    """Start paying through the provider; the answer says where the bidder goes to pay."""

    permission_classes = [permissions.IsAuthenticated]

    class PayOut(serializers.Serializer):
        order_id = serializers.CharField()
        pay_url = serializers.CharField()

    @extend_schema(request=None, responses={201: PayOut})
    def post(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        deposit = selectors.deposit_own(user=request.user, section=section)
        order = deposit_payment_order(deposit=deposit, return_url=reverse("deposit-page", args=[section.public_id]))
        return Response(self.PayOut(order).data, status=status.HTTP_201_CREATED)


class BoardRowOut(serializers.Serializer):
    bidder = serializers.CharField()
    bidder_code = serializers.CharField()
    virtual_account = serializers.CharField()
    amount_due_fen = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    counts = serializers.BooleanField()
    paid_at = serializers.DateTimeField()


class DepositBoard(APIView):
    """Staff: before opening one deposit by bidder code (?code=), never a list; after opening every deposit, with names."""

    permission_classes = [permissions.IsAuthenticated]

    class BoardOut(serializers.Serializer):
        mode = serializers.CharField()
        results = BoardRowOut(many=True)

    @extend_schema(parameters=[OpenApiParameter("code", str, required=False)], responses=BoardOut)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        mode, rows = selectors.deposit_board(user=request.user, section=section, code=request.query_params.get("code", ""))
        return Response(self.BoardOut({"mode": mode, "results": rows}).data)


class DepositPayers(APIView):
    """After opening, for the evaluation and supervisors: who paid, and the DEP-SAME-PAYER flags."""

    permission_classes = [permissions.IsAuthenticated]

    class PayersOut(serializers.Serializer):
        class PayerOut(serializers.Serializer):
            bidder = serializers.CharField()
            bidder_code = serializers.CharField()
            payer_name = serializers.CharField()
            payer_account = serializers.CharField()
            amount_fen = serializers.IntegerField()
            received_at = serializers.DateTimeField()
            on_time = serializers.BooleanField()

        class FlagOut(serializers.Serializer):
            rule = serializers.CharField()
            bidder_codes = serializers.ListField(child=serializers.CharField())

        payers = PayerOut(many=True)
        flags = FlagOut(many=True)

    @extend_schema(responses=PayersOut)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        payers, flags = selectors.deposit_payers(user=request.user, section=section)
        return Response(self.PayersOut({"payers": payers, "flags": flags}).data)


class DepositForfeit(APIView):
    """Staff, after opening: keep a deposit under BID-REVOKE-FORFEIT or DEP-FORFEIT-REFUSE."""

    permission_classes = [permissions.IsAuthenticated]

    class ForfeitInput(serializers.Serializer):
        bidder_code = serializers.CharField(max_length=16)
        reason = serializers.ChoiceField(choices=["BID-REVOKE-FORFEIT", "DEP-FORFEIT-REFUSE"])

    @extend_schema(request=ForfeitInput, responses=BoardRowOut)
    def post(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        if policy.deposit_board_mode(request.user, section) != "list":
            # The same refusal before opening whatever the code: no oracle for who registered.
            raise NotAllowed("NOT-ALLOWED", _("开标后由交易中心工作人员办理没收。"))
        data = self.ForfeitInput(data=request.data)
        data.is_valid(raise_exception=True)
        deposit = policy.deposits_visible(
            request.user,
            Deposit.objects.filter(registration__section=section, registration__bidder_code=data.validated_data["bidder_code"]),
        ).first()
        if deposit is None:
            raise TransitionError("DEP-NOT-FOUND", _("该投标人编号没有保证金记录。"))
        deposit = deposit_forfeit(deposit=deposit, reason=data.validated_data["reason"], actor=request.user)
        return Response(BoardRowOut(selectors.board_row(request.user, deposit)).data)


class DepositTerms(APIView):
    """A section's deposit terms: public facts (amount, cut-off); the cut-off is set while drafting (DEP-BEFORE-DEADLINE)."""

    class TermsOut(serializers.Serializer):
        amount_fen = serializers.IntegerField()
        cutoff_at = serializers.DateTimeField(allow_null=True)

    class TermsInput(serializers.Serializer):
        cutoff_at = serializers.DateTimeField()

    @extend_schema(responses=TermsOut)
    def get(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        return Response(self.TermsOut(selectors.section_deposit_facts(section)).data)

    @extend_schema(request=TermsInput, responses=TermsOut)
    def post(self, request, public_id):
        section = trading_selectors.section_get(user=request.user, public_id=public_id)
        data = self.TermsInput(data=request.data)
        data.is_valid(raise_exception=True)
        deposit_terms_set(actor=request.user, section=section, cutoff_at=data.validated_data["cutoff_at"])
        return Response(self.TermsOut(selectors.section_deposit_facts(section)).data)


class SimNotification(APIView):
    """The callback the simulated provider posts to: answers its literal "success" once the payment is held."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = []

    @extend_schema(request={"application/json": dict}, responses={200: str})
    def post(self, request):
        if not simulated.enabled():
            raise Http404
        # The signed bytes exactly as sent; a refusal leaves through the one error handler.
        notification_receive(provider_name="sim", body=request.body, signature=request.headers.get(SIGNATURE_HEADER, ""))
        return HttpResponse(ACK, content_type="text/plain")


class StatementImport(APIView):
    """Staff: a bank statement (CSV) of transfers to virtual accounts with the bank's signature; the answer names
    lines and outcomes only."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    class ImportInput(serializers.Serializer):
        file = serializers.FileField()
        signature = serializers.FileField(help_text="the bank's detached signature of the file (.sig, base64)")

    class LineOut(serializers.Serializer):
        line = serializers.IntegerField()
        outcome = serializers.CharField()
        reason = serializers.CharField()

    @extend_schema(request=ImportInput, responses=LineOut(many=True))
    def post(self, request):
        if not policy.can_reconcile(request.user):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以导入银行对账单。"))
        data = self.ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        statement = data.validated_data["file"].read()
        signature = data.validated_data["signature"].read(4096).decode("ascii", errors="replace")
        return Response(self.LineOut(statement_import(actor=request.user, data=statement, signature=signature), many=True).data)


class ReconciliationList(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class RunOut(serializers.Serializer):
        class DifferenceOut(serializers.Serializer):
            kind = serializers.CharField()
            movement = serializers.CharField()
            reference = serializers.CharField()
            virtual_account = serializers.CharField()
            ledger_fen = serializers.IntegerField(allow_null=True)
            provider_fen = serializers.IntegerField(allow_null=True)

        id = serializers.IntegerField()
        provider = serializers.CharField()
        day = serializers.DateField()
        matched = serializers.IntegerField(source="matched_shown", allow_null=True)
        differences = DifferenceOut(many=True)

    @extend_schema(responses=RunOut(many=True))
    def get(self, request):
        runs = selectors.reconciliation_runs(user=request.user)
        return Response(self.RunOut(runs, many=True).data)


class AlertList(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class AlertOut(serializers.Serializer):
        rule = serializers.CharField()
        message = serializers.CharField()
        section = serializers.CharField(source="section.public_id", allow_null=True, default=None)
        bidder_codes = serializers.ListField(child=serializers.CharField())
        created_at = serializers.DateTimeField()

    @extend_schema(responses=AlertOut(many=True))
    def get(self, request):
        if not policy.can_supervise(request.user):
            raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以查看预警。"))
        return Response(self.AlertOut(selectors.alerts_list(user=request.user)[:200], many=True).data)
