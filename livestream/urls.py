"""Livestream API and pages (mounted at the site root)."""

urlpatterns: list = []
