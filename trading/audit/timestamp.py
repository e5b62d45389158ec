"""RFC 3161 timestamps for checkpoints, when a timestamping authority is configured."""

import base64
import logging
import urllib.request

from django.conf import settings
from rfc3161_client import TimestampRequestBuilder, decode_timestamp_response

logger = logging.getLogger(__name__)


def timestamp_token(message: bytes) -> str:
    """Base64 of the TSA's response for SHA-512(message), or "" when no TSA is set or it fails."""
    if not settings.TSA_URL.startswith(("https://", "http://")):
        return ""
    request = TimestampRequestBuilder().data(message).nonce(nonce=True).build()
    http_request = urllib.request.Request(  # noqa: S310  (scheme checked above)
        settings.TSA_URL, data=request.as_bytes(), headers={"Content-Type": "application/timestamp-query"}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:  # noqa: S310
            body = response.read()
        decode_timestamp_response(body)  # refuse garbage before storing it
    except Exception:  # a TSA outage must not stop the platform; the checkpoint is signed anyway
        logger.warning("timestamping authority unavailable; checkpoint kept without a timestamp")
        return ""
    return base64.b64encode(body).decode()
