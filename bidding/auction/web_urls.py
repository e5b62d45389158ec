from django.urls import path

from bidding.auction.web import sale_room_page

urlpatterns = [
    path("sales/<str:public_id>/", sale_room_page, name="sale-room"),
]
