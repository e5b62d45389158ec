"""Livestream API and pages (mounted at the site root); the websockets are in routing.py."""

from django.conf import settings
from django.urls import path

from livestream import views

urlpatterns: list = []
if settings.LIVESTREAM_DEMO:
    urlpatterns += [
        path("streams/demo/", views.demo_page, name="livestream-demo"),
        path("streams/demo/publish/", views.demo_publish, name="livestream-demo-publish"),
    ]
