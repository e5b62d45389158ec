"""The part-file writer: whatever the offsets and the cuts, the file holds exactly the bytes sent,
with O_DIRECT for the aligned middle where the file system has it and the page cache where not
(on disk, on tmpfs, and with O_DIRECT turned off)."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding.part_file import ALIGN, STAGE, PartFileWriter

SHM = Path("/dev/shm")


def supports_direct_io(directory: Path) -> bool:
    probe = directory / "probe"
    probe.touch()
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_DIRECT))
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def send(path: Path, data: bytes, requests: list[tuple[int, list[int]]], direct=True) -> set[bool]:
    """Each request resumes at its offset and writes its bytes in pieces of the given sizes; answers
    whether the writers still used O_DIRECT at the end (a misaligned direct write would turn it off)."""
    still_direct = set()
    for offset, sizes in requests:
        writer = PartFileWriter(path, offset, direct=direct)
        position = offset
        for size in sizes:
            piece = data[position : position + size]
            writer.write([piece[: len(piece) // 2], piece[len(piece) // 2 :]])
            position += len(piece)
        still_direct.add(writer.direct)
        writer.close()
        assert writer.written == position - offset
    return still_direct


@pytest.fixture(params=["disk", "tmpfs", "page cache only"])
def where(request, tmp_path):
    """A directory, and whether the writer may use O_DIRECT there."""
    if request.param == "tmpfs":
        if not SHM.is_dir():
            pytest.fail("/dev/shm is missing: the page-cache fallback cannot be tried")
        directory = SHM / f"part-file-test-{os.getpid()}"
        directory.mkdir(exist_ok=True)
        yield directory, True
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()
    else:
        yield tmp_path, request.param == "disk"


def test_the_writer_uses_direct_io_where_the_file_system_has_it(where):
    directory, direct = where
    path = directory / "part"
    path.write_bytes(b"")
    writer = PartFileWriter(path, 0, direct=direct)
    try:
        assert writer.direct == (direct and supports_direct_io(directory))
    finally:
        writer.close()


def test_the_disk_used_by_the_tests_takes_direct_writes(tmp_path):
    """The path the uploads take here (ext4) is the one measured in bench/upload.py."""
    assert supports_direct_io(tmp_path)
    path = tmp_path / "part"
    path.write_bytes(b"")
    data = os.urandom(3 * STAGE + 5 * ALIGN + 123)
    assert send(path, data, [(0, [len(data)]), (ALIGN + 1, [STAGE, 77])]) == {True}
    assert path.read_bytes() == data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=2 * STAGE + 3 * ALIGN), min_size=1, max_size=6),
    pieces=st.lists(st.integers(min_value=1, max_value=STAGE + ALIGN + 7), min_size=1, max_size=5),
    resend=st.integers(min_value=0, max_value=3 * ALIGN),
)
def test_resumed_and_resent_requests_leave_exactly_the_bytes_sent(where, cuts, pieces, resend):
    """Requests that start at any offset (a resume), resend bytes already written, and end anywhere."""
    directory, direct = where
    total = sum(cuts)
    data = os.urandom(total)
    path = directory / "part"
    path.write_bytes(b"")
    requests, offset = [], 0
    for cut in cuts:
        start = max(0, offset - resend)  # the client resends a little of what was written before
        end = offset + cut
        sizes, left = [], end - start
        for size in pieces * (left // max(sum(pieces), 1) + 1):
            if left <= 0:
                break
            sizes.append(min(size, left))
            left -= sizes[-1]
        requests.append((start, sizes))
        offset = end
    assert send(path, data, requests, direct=direct) == {direct and supports_direct_io(directory)}
    assert path.read_bytes() == data


def test_the_batches_in_flight_stay_within_their_budget():
    """1 MB hand-offs for a few uploads, 256 KB for many; never more than the budget unless at the floor."""
    from bidding.upload_stream import BATCH_BUDGET, BATCH_MAX, BATCH_MIN, batch_size

    assert batch_size(1) == batch_size(8) == BATCH_MAX
    assert batch_size(50) == batch_size(1000) == BATCH_MIN
    for streaming in range(1, 200):
        assert BATCH_MIN <= batch_size(streaming) <= BATCH_MAX
        assert streaming * batch_size(streaming) <= max(BATCH_BUDGET, streaming * BATCH_MIN)
