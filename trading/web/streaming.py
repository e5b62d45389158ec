"""File downloads that stream under ASGI too.

Django serves a streaming response with a synchronous iterator to an ASGI server by reading it whole
into a list first (django.http.StreamingHttpResponse.__aiter__): a tender document or a bid part of
hundreds of MB would sit in the server's memory. Under WSGI a FileResponse streams as it is.
"""

from asgiref.sync import sync_to_async
from django.http import FileResponse

_END = object()


class StreamedFileResponse(FileResponse):
    """A FileResponse read in 1 MB blocks: on a worker thread, one block at a time, when served over ASGI."""

    block_size = 1 << 20

    async def __aiter__(self):
        if self.is_async:
            async for part in super().__aiter__():
                yield part
            return
        blocks = iter(self.streaming_content)
        read = sync_to_async(next, thread_sensitive=False)
        while (part := await read(blocks, _END)) is not _END:
            yield part
