"""The URL conf of the streaming chunk endpoint's checks (bidding/upload_stream.py); not part of config.urls."""

from django.urls import path

from bidding.api import UploadChunkGate

urlpatterns = [path("api/v1/uploads/<uuid:upload_id>/", UploadChunkGate.as_view())]
