"""Supervision API routes (mounted under /api/v1/)."""

from django.urls import path

from trading.supervision import api

urlpatterns = [
    path("supervision/alerts/", api.AlertList.as_view(), name="api-supervision-alerts"),
    path("supervision/rules/", api.RuleList.as_view(), name="api-supervision-rules"),
    path("supervision/sections/<str:public_id>/rules/", api.SectionRuleStatus.as_view(), name="api-supervision-section-rules"),
    path("statistics/", api.Statistics.as_view(), name="api-statistics"),
    path("opendata/releases/", api.OcdsReleases.as_view(), name="api-ocds-releases"),
    path("opendata/sections/<str:public_id>/releases/", api.OcdsSectionReleases.as_view(), name="api-ocds-section-releases"),
    path("opendata/sections/<str:public_id>/record/", api.OcdsSectionRecord.as_view(), name="api-ocds-section-record"),
]
