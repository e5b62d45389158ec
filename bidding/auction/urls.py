"""Sale API routes, included under /api/v1/."""

from django.urls import path

from bidding.auction import api

urlpatterns = [
    path("sales/results/", api.SaleResults.as_view(), name="api-sale-results"),
    path("sales/<str:public_id>/", api.SaleRoom.as_view(), name="api-sale"),
    path("sales/<str:public_id>/offers/", api.SaleOffer.as_view(), name="api-sale-offer"),
]
