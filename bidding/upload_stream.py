"""The chunk PUT of the upload API as a raw ASGI endpoint in front of Django.

Django's ASGI handler spools every request body to a temporary file before the view runs,
so each byte of a bid would be written twice, and the envelope read a third time at
finalize. Here the body goes from the socket straight into the part file and through the
envelope checker (bidding.envelope.EnvelopeVerifier) as it arrives, so finalize has
nothing left to read. Before a byte is read, the request passes Django's whole middleware
stack and a DRF view (bidding.api.UploadChunkGate) with the same authentication,
permissions, throttles and error body as the Django endpoint, which checks the owner, the
server clock and the offset under the row lock.
"""

import asyncio
import io
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import JsonResponse
from django.urls import set_script_prefix, set_urlconf
from django.utils import translation

from bidding import submission
from trading.api.errors import error_body
from trading.errors import DomainError

CHUNK_PATH = re.compile(r"/api/v1/uploads/[0-9a-fA-F-]{36}/")
# The upload's create and finalize run on the same threads: under Django's ASGI handler each request
# gets a thread and a database connection of its own, which a crowd of uploads queues for seconds.
CALL_PATH = re.compile(r"/api/v1/(sections/[^/]+/uploads|uploads/[0-9a-fA-F-]{36}/finalize)/")
CALL_BODY_MAX = 1 << 16  # their bodies are a few bytes of JSON
GATE_URLCONF = "bidding.upload_stream_urls"
# Bytes handed to a writer thread at once (two batches per request in memory at most): 1 MB while few
# uploads stream in (fewer hand-offs between threads, bigger direct writes: about 8% more throughput),
# down to 256 KB as more do, so that all the batches in flight stay within BATCH_BUDGET.
BATCH_MIN, BATCH_MAX, BATCH_BUDGET = 1 << 18, 1 << 20, 8 << 20
_streaming = 0  # requests streaming in on this process (read and changed on the event loop only)


def batch_size(streaming: int) -> int:
    return max(BATCH_MIN, min(BATCH_MAX, BATCH_BUDGET // max(streaming, 1)))


# File writes and hashing release the GIL: on their own threads they leave the event loop free.
_writers = ThreadPoolExecutor(max_workers=max(4, os.cpu_count() or 1), thread_name_prefix="upload-writer")
# The checks and commits run on a few threads of their own that keep their database connection
# between chunks (a new connection per request costs more than the rest of the checks), and
# queue behind each other instead of behind the pages' sync views.
_database = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload-db")


def _on_database_thread(script_prefix: str, job, *args):
    set_script_prefix(script_prefix)
    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred and not connection.is_usable():
            connection.close()  # a broken connection (database restarted): the next query reconnects
    try:
        return job(*args)
    finally:
        set_urlconf(None)  # nothing of this request's URL conf or language stays with the thread
        translation.deactivate()


def close_database_connections() -> None:
    """Every database thread closes its connection (at shutdown, and between tests)."""
    workers = _database._max_workers
    barrier = threading.Barrier(workers)

    def close() -> None:
        barrier.wait(timeout=10)  # holds each thread until all have a job: one job per thread
        connections.close_all()

    for future in [_database.submit(close) for _ in range(workers)]:
        future.result()


class UploadStreamRouter:
    """`PUT /api/v1/uploads/<id>/` is streamed here, the upload's create and finalize run on the database
    threads; everything else goes to `app`."""

    def __init__(self, app):
        self.app = app
        self.gate = BaseHandler()  # Django's middleware stack, called on the database threads
        self.gate.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "PUT" and CHUNK_PATH.fullmatch(scope["path"]):
            await self.put(scope, receive, send)
        elif scope["type"] == "http" and scope["method"] == "POST" and CALL_PATH.fullmatch(scope["path"]):
            await self.call(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def put(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        prefix = get_script_prefix(scope)
        request = ASGIHandler.request_class(scope, io.BytesIO())  # the body is not read by the checks
        request.urlconf = GATE_URLCONF
        response = await loop.run_in_executor(_database, _on_database_thread, prefix, self.gate.get_response, request)
        claim = getattr(request, "upload_claim", None)
        if claim is not None:
            checked = response
            response = await self.receive_chunk(claim, receive, prefix, getattr(request, "LANGUAGE_CODE", None))
            if response is None:  # the client went away: what arrived is kept for the resume
                return
            response.cookies = checked.cookies  # a refreshed session or CSRF cookie from the middleware
        await send_response(response, send)

    async def call(self, scope, receive, send):
        """The whole Django request (middleware, URL conf, view) on a database thread, its small body read first."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > CALL_BODY_MAX:
                await send_response(JsonResponse(error_body("INVALID", "request body too large"), status=413), send)
                return
            if not message.get("more_body", False):
                break
        request = ASGIHandler.request_class(scope, io.BytesIO(bytes(body)))
        loop = asyncio.get_running_loop()
        prefix = get_script_prefix(scope)
        response = await loop.run_in_executor(_database, _on_database_thread, prefix, self.gate.get_response, request)
        await send_response(response, send)

    async def receive_chunk(self, claim: submission.UploadClaim, receive, prefix, language) -> JsonResponse | None:
        try:
            gone = await stream_body(claim, receive)
        finally:
            claim.close()

        def commit():
            with translation.override(language):
                return submission.upload_commit(claim=claim)

        try:
            upload = await asyncio.get_running_loop().run_in_executor(_database, _on_database_thread, prefix, commit)
        except DomainError as error:
            response = JsonResponse(error_body(error.code, str(error.message), error.fields), status=error.status)
        else:
            body = {"id": str(upload.pk), "size": upload.size, "received": upload.received, "status": upload.status}
            response = JsonResponse(body)
        return None if gone else response


async def send_response(response, send) -> None:
    headers = [(name.encode("latin1"), value.encode("latin1")) for name, value in response.items()]
    headers += [(b"Set-Cookie", cookie.output(header="").encode("ascii").strip()) for cookie in response.cookies.values()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


async def stream_body(claim: submission.UploadClaim, receive) -> bool:
    """Write the request body into the claim while the next batch arrives; True if the client went away."""
    global _streaming
    _streaming += 1
    try:
        return await _stream_body(claim, receive)
    finally:
        _streaming -= 1


async def _stream_body(claim: submission.UploadClaim, receive) -> bool:
    loop = asyncio.get_running_loop()
    batch, size, left = [], 0, claim.length
    pending = None
    gone = False
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                break
            body = message.get("body", b"")[:left]
            if body:
                batch.append(body)
                size += len(body)
                left -= len(body)
            if size >= batch_size(_streaming):
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(_writers, claim.write, batch)
                batch, size = [], 0
            if not message.get("more_body", False):
                break
        if pending is not None:
            await pending
            pending = None
        if batch:
            await loop.run_in_executor(_writers, claim.write, batch)
        claim.sync_later(_writers)
    finally:
        if pending is not None:
            await asyncio.shield(pending)  # the file descriptor stays open until the writer is done
    return gone
