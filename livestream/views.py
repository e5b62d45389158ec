"""The demo stream: a page that watches it and an endpoint that publishes to it (demo mode only)."""

import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish
from trading.errors import DomainError


def _demo_only():
    if not settings.LIVESTREAM_DEMO:
        raise Http404


def demo_page(request):
    _demo_only()
    stream = stream_ensure(kind=StreamKind.DEMO)
    return render(request, "livestream/demo.html", {"stream": stream})


# No CSRF: the demo stream is nobody's record, and the endpoint exists only in demo mode (tests, benches, local play).
@csrf_exempt
@require_POST
def demo_publish(request):
    _demo_only()
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"code": "BAD-JSON", "message": "not JSON", "fields": {}}, status=400)
    stream = stream_ensure(kind=StreamKind.DEMO)
    try:
        event = stream_publish(stream=stream, kind="demo.note", payload=body.get("payload") or {})
    except DomainError as error:
        return JsonResponse({"code": error.code, "message": error.message, "fields": error.fields}, status=error.status)
    return JsonResponse({"stream": stream.key, "seq": event.seq}, status=201)
