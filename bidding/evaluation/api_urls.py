"""Evaluation API routes (mounted under /api/v1/)."""

from django.urls import path

from bidding.evaluation import api

urlpatterns = [
    path("sections/<str:public_id>/draw/", api.DrawRecord.as_view(), name="api-evaluation-draw"),
    path("sections/<str:public_id>/scores/", api.ScoresSubmit.as_view(), name="api-evaluation-scores"),
    path("sections/<str:public_id>/scores/statement/", api.ScoresStatement.as_view(), name="api-evaluation-statement"),
    path("expert/signing-key/", api.ExpertSigningKey.as_view(), name="api-evaluation-expert-key"),
    path("sections/<str:public_id>/collusion-flags/", api.CollusionFlags.as_view(), name="api-evaluation-flags"),
    path("expert/seats/", api.MySeats.as_view(), name="api-evaluation-seats"),
]
