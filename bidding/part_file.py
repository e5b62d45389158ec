"""Writing an upload's part file past the page cache.

A part file is written once and not read again until the opening, days later: caching it only
evicts what the database and the pages need, and on a virtual machine each fresh page-cache
page is slow to fill (bench/upload.py measured a third of the upload server's CPU in that copy).
So the aligned middle of each write goes to disk with O_DIRECT, through one reused staging
buffer per writer thread; the unaligned edges (a resume at any offset, the last bytes of a
request) go through the page cache. Where the file system has no O_DIRECT, everything does.
"""

import contextlib
import errno
import mmap
import os
import threading

ALIGN = 4096  # offsets, lengths and buffer addresses of direct writes: a multiple of any block size
STAGE = 1 << 20  # staging buffer per writer thread

_staging = threading.local()


def _stage() -> memoryview:
    if not hasattr(_staging, "view"):
        _staging.view = memoryview(mmap.mmap(-1, STAGE))  # page-aligned, reused by every write on this thread
    return _staging.view


def _pwrite_all(fd: int, data, position: int) -> None:
    while data:
        n = os.pwrite(fd, data, position)
        data, position = data[n:], position + n


class PartFileWriter:
    """Writes bytes at `offset` onwards, in order. `written` counts what is in the file; a tail of
    less than one block waits for the next write or for flush()."""

    def __init__(self, path, offset: int, *, direct: bool = True):
        self.fd = os.open(path, os.O_WRONLY)
        self.direct_fd = -1
        if direct:
            with contextlib.suppress(OSError):  # no O_DIRECT here: the page cache takes everything
                self.direct_fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
        self.offset = offset
        self.written = 0
        self.carry = b""  # bytes at offset + written not yet in the file (less than one block)

    @property
    def direct(self) -> bool:
        return self.direct_fd >= 0

    def write(self, pieces) -> None:
        if not self.direct:
            self._buffered([self.carry, *pieces] if self.carry else pieces)
            self.carry = b""
            return
        position = self.offset + self.written
        stream = [memoryview(self.carry), *map(memoryview, pieces)] if self.carry else list(map(memoryview, pieces))
        self.carry = b""
        head = -position % ALIGN  # up to the next block boundary through the page cache
        while head and stream:
            piece = stream[0][:head]
            _pwrite_all(self.fd, piece, position)
            position, head, self.written = position + len(piece), head - len(piece), self.written + len(piece)
            stream[0] = stream[0][len(piece) :]
            if not stream[0]:
                stream.pop(0)
        stage, fill = _stage(), 0
        for piece in stream:
            while piece:
                n = min(len(piece), STAGE - fill)
                stage[fill : fill + n] = piece[:n]
                fill, piece = fill + n, piece[n:]
                if fill == STAGE:
                    self._direct(stage, position)
                    position += STAGE
                    fill = 0
        aligned = fill - fill % ALIGN
        if aligned:
            self._direct(stage[:aligned], position)
        self.carry = bytes(stage[aligned:fill])

    def _direct(self, block, position: int) -> None:
        try:
            _pwrite_all(self.direct_fd, block, position)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            os.close(self.direct_fd)  # a file system that opens with O_DIRECT but refuses its writes
            self.direct_fd = -1
            _pwrite_all(self.fd, block, position)
        self.written += len(block)

    def _buffered(self, pieces) -> None:
        pieces = [memoryview(p) for p in pieces]
        position = self.offset + self.written
        while pieces:
            n = os.pwritev(self.fd, pieces, position)
            position += n
            self.written += n
            while pieces and n >= len(pieces[0]):
                n -= len(pieces[0])
                pieces.pop(0)
            if n:  # a short write: the rest of that piece follows
                pieces[0] = pieces[0][n:]

    def flush(self) -> None:
        """The tail too is in the file."""
        if self.carry:
            _pwrite_all(self.fd, self.carry, self.offset + self.written)
            self.written += len(self.carry)
            self.carry = b""

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def close(self) -> None:
        try:
            if self.fd >= 0:
                self.flush()
        finally:
            for fd in (self.direct_fd, self.fd):
                if fd >= 0:
                    os.close(fd)
            self.fd = self.direct_fd = -1
