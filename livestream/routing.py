"""Websocket routes: /ws/streams/<key>/?after=N (N: the last seq the client saw)."""

from django.urls import re_path

from livestream.consumers import StreamConsumer

websocket_urlpatterns = [
    re_path(r"^ws/streams/(?P<key>[A-Za-z0-9][A-Za-z0-9._-]{0,79})/$", StreamConsumer.as_asgi()),
]
