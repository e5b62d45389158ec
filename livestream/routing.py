"""Websocket routes; the streams themselves arrive with the opening issue."""

websocket_urlpatterns: list = []
