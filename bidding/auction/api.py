"""The sale's API: the room's state, an offer, the results (statistics and open data)."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bidding.auction import selectors
from bidding.auction.services import sale_offer


class SaleRoom(APIView):
    """Anyone who may see the section watches; a bidder also sees its own position."""

    @extend_schema(responses=dict)
    def get(self, request, public_id):
        sale = selectors.sale_for(user=request.user, public_id=public_id)
        return Response(selectors.sale_room(user=request.user, sale=sale))


class SaleOffer(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class OfferInput(serializers.Serializer):
        amount_fen = serializers.IntegerField(min_value=1)

    class OfferOutput(serializers.Serializer):
        seq = serializers.IntegerField()
        amount_fen = serializers.IntegerField()
        at = serializers.DateTimeField()
        phase = serializers.CharField()

    @extend_schema(request=OfferInput, responses={201: OfferOutput})
    def post(self, request, public_id):
        sale = selectors.sale_for(user=request.user, public_id=public_id)
        data = self.OfferInput(data=request.data)
        data.is_valid(raise_exception=True)
        offer = sale_offer(actor=request.user, section=sale.section, amount_fen=data.validated_data["amount_fen"])
        return Response(self.OfferOutput(offer).data, status=status.HTTP_201_CREATED)


class SaleResults(APIView):
    @extend_schema(responses=dict)
    def get(self, request):
        return Response(selectors.sale_results(user=request.user))
