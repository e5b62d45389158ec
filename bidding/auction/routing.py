"""Websocket route of the auction room: /ws/auctions/<section public id>/?after=N."""

from django.urls import re_path

from bidding.auction.consumers import AuctionConsumer

websocket_urlpatterns = [
    re_path(r"^ws/auctions/(?P<public_id>[A-Za-z0-9][A-Za-z0-9._-]{0,60})/$", AuctionConsumer.as_asgi()),
]
