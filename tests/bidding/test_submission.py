"""Sealed bids from registration to the deadline's root (BID-* rules)."""

import io
import itertools
import json
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bidding import envelope as E
from bidding import keys
from bidding.ceremony import custodian_private_key
from bidding.models import Bid, KeyShare, Upload
from bidding.services import registration_create
from bidding.submission import (
    bid_inclusion_proof,
    bid_withdraw,
    bids_for_opening,
    seal_bids_at_deadline,
    upload_create,
    upload_finalize,
    upload_write,
)
from tests.asgi import http_scope
from tests.conftest import signed_in
from tests.factories import SectionFactory
from trading.audit import merkle
from trading.errors import DomainError, RuleViolation
from trading.models import Role, SectionState
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db
MARKER = "MARKER-报价-9f3e2a1c"


class Bidder:
    def __init__(self, make_user, section):
        self.user = make_user(Role.BIDDER)
        self.signing, self.encryption = E.generate_key(), E.generate_key()
        self.registration = registration_create(
            actor=self.user,
            section=section,
            contact_name="李四",
            contact_phone="13900000000",
            signing_public_key=E.public_key_text(self.signing.public_key()),
            encryption_public_key=E.public_key_text(self.encryption.public_key()),
        )
        self.section = section

    def seal(self, *, price=100_000_000, text=MARKER, section=None, code=None) -> bytes:
        out = io.BytesIO()
        section = section or self.section
        E.seal(
            section=section.public_id,
            bidder_code=code or self.registration.bidder_code,
            opening_public_key=E.load_public_key(section.opening_key.public_key),
            bidder_public_key=self.encryption.public_key(),
            signing_private_key=self.signing,
            form={"price_fen": price, "currency": "CNY", "fields": {"note": text}},
            files={"technical": ("技术标.txt", "text/plain", (text * 1000).encode())},
            out=out,
            chunk_size=65536,
        )
        return out.getvalue()

    def submit(self, data: bytes, *, pieces: int = 3) -> Bid:
        upload = upload_create(actor=self.user, section=self.section, size=len(data))
        step = -(-len(data) // pieces)
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step]
            upload_write(actor=self.user, upload_id=upload.pk, offset=offset, stream=io.BytesIO(piece), length=len(piece))
        return upload_finalize(actor=self.user, upload_id=upload.pk)


@pytest.fixture
def section(staff):
    return section_publish(actor=staff, section=SectionFactory())


@pytest.fixture
def bidder(make_user, section):
    return Bidder(make_user, section)


def past_deadline(section):
    section.bid_deadline = timezone.now()
    section.save(update_fields=["bid_deadline"])


def test_BID_RECEIPT_an_accepted_bid_gets_a_receipt_verifiable_offline(bidder, tmp_path):
    bid = bidder.submit(bidder.seal())
    assert bid.status == Bid.Status.ACTIVE and bid.receipt["receipt"]["digest"] == bid.digest
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(bid.receipt))
    result = subprocess.run([sys.executable, "-m", "bidding.cli", "verify-receipt", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    bid.receipt["receipt"]["size"] += 1
    path.write_text(json.dumps(bid.receipt))
    assert subprocess.run([sys.executable, "-m", "bidding.cli", "verify-receipt", str(path)], capture_output=True).returncode == 1


def test_a_broken_upload_resumes_from_what_arrived(bidder):
    data = bidder.seal()
    upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
    upload_write(actor=bidder.user, upload_id=upload.pk, offset=0, stream=io.BytesIO(data[:1000]), length=1000)
    # The connection drops mid-chunk: 500 of 2000 bytes arrive.
    with pytest.raises(DomainError) as cut:
        upload_write(actor=bidder.user, upload_id=upload.pk, offset=1000, stream=io.BytesIO(data[1000:1500]), length=2000)
    assert cut.value.code == "UPLOAD-INCOMPLETE"
    upload.refresh_from_db()
    assert upload.received == 1500
    with pytest.raises(DomainError) as gap:
        upload_write(actor=bidder.user, upload_id=upload.pk, offset=5000, stream=io.BytesIO(b"x"), length=1)
    assert gap.value.code == "UPLOAD-OFFSET"
    upload_write(actor=bidder.user, upload_id=upload.pk, offset=1500, stream=io.BytesIO(data[1500:]), length=len(data) - 1500)
    assert upload_finalize(actor=bidder.user, upload_id=upload.pk).digest == E.hashlib.sha256(data).hexdigest()


def test_BID_DEADLINE_late_finalize_replace_and_withdraw_are_refused(bidder, section):
    bidder.submit(bidder.seal())
    data = bidder.seal(price=1)
    upload = upload_create(actor=bidder.user, section=section, size=len(data))
    upload_write(actor=bidder.user, upload_id=upload.pk, offset=0, stream=io.BytesIO(data), length=len(data))
    past_deadline(section)  # the scheduled job has not run: the server clock decides at request time
    for attempt in (
        lambda: upload_finalize(actor=bidder.user, upload_id=upload.pk),
        lambda: bid_withdraw(actor=bidder.user, section=section),
        lambda: upload_create(actor=bidder.user, section=section, size=10),
    ):
        with pytest.raises(RuleViolation) as late:
            attempt()
        assert late.value.code == "BID-DEADLINE"
    assert list(Bid.objects.values_list("status", flat=True)) == ["active"]


def test_BID_ONE_PER_BIDDER_replacing_keeps_one_active_bid_and_the_database_enforces_it(bidder):
    first = bidder.submit(bidder.seal(price=1))
    second = bidder.submit(bidder.seal(price=2))
    first.refresh_from_db()
    assert (first.status, second.status) == ("replaced", "active")
    with pytest.raises(IntegrityError), transaction.atomic():
        Bid.objects.filter(pk=first.pk).update(status="active")


def test_withdrawal_before_the_deadline(bidder, section):
    bidder.submit(bidder.seal())
    assert bid_withdraw(actor=bidder.user, section=section).status == "withdrawn"


def tamperings(data: bytes):
    length = int.from_bytes(data[8:12], "big")
    body = 12 + length
    yield "truncated", data[:-10]
    yield "garbled", data[: body + 5] + bytes([data[body + 5] ^ 1]) + data[body + 6 :]
    yield "not an envelope", b"%PDF-1.7 plain text bid " * 10
    header = json.loads(data[12:body])
    header["manifest"]["parts"][0]["sha256"] = "0" * 64
    raw = E.canonical_json(header)
    yield "manifest edited", E.MAGIC + len(raw).to_bytes(4, "big") + raw + data[body:]
    header = json.loads(data[12:body])
    header["signature"] = E.b64url(bytes(64))
    raw = E.canonical_json(header)
    yield "bad signature", E.MAGIC + len(raw).to_bytes(4, "big") + raw + data[body:]


def test_BID_ENCRYPTED_bad_envelopes_are_refused_and_nothing_is_stored(bidder):
    for name, data in tamperings(bidder.seal()):
        with pytest.raises(RuleViolation) as refused:
            bidder.submit(data)
        assert refused.value.code == "BID-ENCRYPTED", name
    assert not Bid.objects.exists()


def test_a_replay_of_another_bidders_envelope_is_refused(make_user, bidder, section):
    other = Bidder(make_user, section)
    stolen = bidder.seal()
    with pytest.raises(RuleViolation) as refused:
        other.submit(stolen)
    assert refused.value.code == "BID-ENCRYPTED" and "bidder code" in refused.value.message
    assert not Bid.objects.exists()


def test_an_envelope_for_another_section_is_refused(make_user, staff, bidder):
    elsewhere = section_publish(actor=staff, section=SectionFactory())
    with pytest.raises(RuleViolation):
        bidder.submit(bidder.seal(section=elsewhere))


def test_an_unregistered_bidder_cannot_upload(make_user, section):
    with pytest.raises(DomainError) as refused:
        upload_create(actor=make_user(Role.BIDDER), section=section, size=100)
    assert refused.value.code == "NOT-REGISTERED"


def test_oversized_uploads_are_refused(bidder, settings):
    settings.MAX_ENVELOPE_SIZE = 1000
    with pytest.raises(DomainError) as refused:
        upload_create(actor=bidder.user, section=bidder.section, size=1001)
    assert refused.value.code == "BID-TOO-LARGE"
    assert not Upload.objects.exists()


def test_the_deadline_root_includes_every_bid_and_tells_no_count(make_user, section, bidder):
    second = Bidder(make_user, section)
    bids = [bidder.submit(bidder.seal()), second.submit(second.seal())]
    past_deadline(section)
    sealed = seal_bids_at_deadline(section=section)
    assert sealed.tree_size == 256  # padded: one bid or a hundred look alike
    for bid in bids:
        bid.refresh_from_db()
        proof = bid_inclusion_proof(bid=bid)
        assert merkle.verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(sealed.root_hash),
        )
    accepted, flagged = bids_for_opening(section=section)
    assert [b.pk for b in accepted] == [b.pk for b in bids] and flagged == []


def test_rows_inserted_by_hand_after_the_root_are_flagged_and_not_opened(make_user, section, bidder):
    honest = bidder.submit(bidder.seal())
    late = Bidder(make_user, section)
    data = late.seal()
    past_deadline(section)
    seal_bids_at_deadline(section=section)
    # A DBA slips a bid in: a row with a file, a digest and a plausible time.
    Bid.objects.create(
        registration=late.registration,
        envelope="envelopes/x",
        digest=E.hashlib.sha256(data).hexdigest(),
        size=len(data),
        manifest={},
        receipt={},
        submitted_at=section.bid_deadline - timedelta(minutes=5),
    )
    accepted, flagged = bids_for_opening(section=section)
    assert [b.pk for b in accepted] == [honest.pk]
    assert [b.registration_id for b, _reason in flagged] == [late.registration.pk]


def test_marker_strings_and_the_private_key_are_nowhere_in_the_database_storage_redis_or_logs(bidder, section, caplog):
    """The DBA's view: every table, every stored file, every Redis value and every log line hold no plaintext."""
    caplog.set_level("DEBUG")
    bid = bidder.submit(bidder.seal(text=MARKER))
    assert MARKER not in caplog.text
    if os.environ.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            value = client.dump(key) or b""
            assert MARKER.encode() not in value, (key, kind)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        dump = []
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            dump.extend(repr(row) for row in cursor.fetchall())
    text = "\n".join(dump)
    assert MARKER not in text
    with default_storage.open(bid.envelope.name, "rb") as fh:
        stored = fh.read()
    assert MARKER.encode() not in stored and MARKER.encode("utf-16-le") not in stored
    assert not any(b.decode() in text for b in (E.private_key_pem(bidder.encryption), E.private_key_pem(bidder.signing)))


def test_custodians_quorum_opens_a_bid_and_one_custodian_cannot(bidder, section):
    bid = bidder.submit(bidder.seal(price=4242))
    shares = list(KeyShare.objects.filter(opening_key__section=section).select_related("custodian"))
    assert len(shares) == 3
    commitments = {s.index: s.commitment for s in shares}
    unsealed = [
        keys.unseal_share(
            section=section.public_id,
            index=s.index,
            sealed=s.sealed,
            custodian_key=custodian_private_key(user=s.custodian, passphrase="custodian-passphrase-1"),
        )
        for s in shares
    ]
    for pair in itertools.combinations(unsealed, 2):
        key = keys.rebuild_private_key(
            section=section.public_id,
            shares=list(pair),
            commitments=commitments,
            fingerprint=section.opening_key.fingerprint,
            threshold=2,
        )
        with bid.envelope.open("rb") as fh:
            assert E.open_form(fh, private_key=key, recipient="opening")["price_fen"] == 4242
    with pytest.raises(keys.KeyError_) as alone:
        keys.rebuild_private_key(
            section=section.public_id,
            shares=unsealed[:1],
            commitments=commitments,
            fingerprint=section.opening_key.fingerprint,
            threshold=2,
        )
    assert alone.value.code == "KEY-QUORUM"


def test_publication_refuses_without_the_three_custodians(staff):
    from trading.models import User

    section = SectionFactory()
    User.objects.filter(organization=section.project.tenderer, is_key_custodian=True).update(is_key_custodian=False)
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "KEY-CUSTODIANS"
    section.refresh_from_db()
    assert section.state == SectionState.DRAFT


def test_the_upload_api_end_to_end(api, bidder, section):
    signed_in(api, bidder.user)
    data = bidder.seal()
    created = api.post(f"/api/v1/sections/{section.public_id}/uploads/", {"size": len(data)}, format="json").json()
    half = len(data) // 2
    for offset, piece in ((0, data[:half]), (half, data[half:])):
        answer = api.put(
            f"/api/v1/uploads/{created['id']}/", piece, content_type="application/octet-stream", HTTP_UPLOAD_OFFSET=str(offset)
        )
        assert answer.status_code == 200, answer.json()
    assert api.get(f"/api/v1/uploads/{created['id']}/").json()["received"] == len(data)
    done = api.post(f"/api/v1/uploads/{created['id']}/finalize/")
    assert done.status_code == 201 and done.json()["receipt"]["receipt"]["bidder_code"] == bidder.registration.bidder_code
    assert api.get(f"/api/v1/sections/{section.public_id}/bid/").json()["status"] == "active"


def test_the_scheduled_tick_closes_bidding_and_seals_the_root_once(bidder, section):
    from bidding.models import SealedBidsRoot
    from trading.audit.events import AuditEvent
    from trading.audit.models import AuditEntry
    from trading.tasks import lifecycle_tick

    bidder.submit(bidder.seal())
    past_deadline(section)
    assert lifecycle_tick.delay().get() == 1
    assert lifecycle_tick.delay().get() == 0  # safe to run twice
    section.refresh_from_db()
    assert section.state == SectionState.BIDDING_CLOSED
    assert SealedBidsRoot.objects.filter(section=section).count() == 1
    assert AuditEntry.objects.filter(section=section, event=AuditEvent.BIDS_SEALED_ROOT).count() == 1


# --- the streaming chunk endpoint (bidding/upload_stream.py), as uvicorn drives it ----------


@pytest.fixture
def stream_app():
    from bidding import upload_stream

    async def not_here(scope, receive, send):
        raise AssertionError(f"{scope['method']} {scope['path']} should not reach the rest of the site")

    yield upload_stream.UploadStreamRouter(not_here)
    upload_stream.close_database_connections()  # the endpoint's threads keep theirs between chunks


def stream_put(app, upload_id, offset, pieces, *, headers=(), cut=False, length=None):
    """One PUT through the ASGI app; `cut` drops the connection after the pieces. Returns (status, body)."""
    length = sum(len(p) for p in pieces) if length is None else length
    scope = http_scope(
        "PUT",
        f"/api/v1/uploads/{upload_id}/",
        [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(length).encode()),
            (b"upload-offset", str(offset).encode()),
            *headers,
        ],
    )
    messages = [{"type": "http.request", "body": piece, "more_body": True} for piece in pieces] or [
        {"type": "http.request", "body": b"", "more_body": True}
    ]
    if cut:
        messages.append({"type": "http.disconnect"})
    else:
        messages[-1]["more_body"] = False
    return asgi_call(app, scope, messages)


def asgi_call(app, scope, messages):
    """Drive the ASGI app with these messages as a server would; returns (status, JSON body) or (None, None)."""
    import asyncio

    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a server would wait for more: the app must not ask

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if not sent:
        return None, None
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def stream_post(app, path, body: bytes = b"", *, headers=()):
    scope = http_scope(
        "POST", path, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    )
    return asgi_call(app, scope, [{"type": "http.request", "body": body, "more_body": False}])


def token_header(user):
    from rest_framework.authtoken.models import Token

    return [(b"authorization", f"Token {Token.objects.get_or_create(user=user)[0].key}".encode())]


def part_file(upload) -> bytes:
    from bidding.submission import upload_path

    return upload_path(upload).read_bytes()


stream_db = pytest.mark.django_db(transaction=True)


@stream_db
def test_streamed_chunks_resume_after_a_cut_and_finalize_without_reading_the_file_again(stream_app, bidder):
    from bidding.submission import stream_checks

    data = bidder.seal()
    auth = token_header(bidder.user)
    upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
    assert stream_put(stream_app, upload.pk, 0, [data[:1000]], headers=auth) == (
        200,
        {"id": str(upload.pk), "size": len(data), "received": 1000, "status": "open"},
    )
    # The connection drops after 1500 of the 3000 bytes the next chunk announced.
    assert stream_put(stream_app, upload.pk, 1000, [data[1000:2000], data[2000:2500]], headers=auth, cut=True, length=3000) == (
        None,
        None,
    )
    upload.refresh_from_db()
    assert upload.received == 2500 and part_file(upload)[:2500] == data[:2500]
    status, body = stream_put(stream_app, upload.pk, 5000, [b"x"], headers=auth)
    assert (status, body["code"], body["fields"]) == (400, "UPLOAD-OFFSET", {"offset": "2500"})
    status, body = stream_put(stream_app, upload.pk, 2500, [data[2500:]], headers=auth)
    assert (status, body["received"]) == (200, len(data))
    checker = stream_checks.take(upload.pk)
    assert checker is not None and checker.fed == len(data)  # every byte went through the checks as it arrived
    stream_checks.put(upload.pk, checker)
    bid = upload_finalize(actor=bidder.user, upload_id=upload.pk, client_ip="10.0.0.7", user_agent="test")
    assert bid.digest == E.hashlib.sha256(data).hexdigest() and bid.client_ip == "10.0.0.7"
    with bid.envelope.open("rb") as fh:
        assert fh.read() == data


@stream_db
def test_a_resent_chunk_overwrites_and_finalize_checks_the_file_itself(stream_app, bidder):
    data = bidder.seal()
    auth = token_header(bidder.user)
    upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
    stream_put(stream_app, upload.pk, 0, [b"\0" * 2000], headers=auth)  # garbage first, then the real bytes over it
    stream_put(stream_app, upload.pk, 0, [data], headers=auth)
    assert upload_finalize(actor=bidder.user, upload_id=upload.pk).digest == E.hashlib.sha256(data).hexdigest()


@stream_db
def test_streamed_chunks_of_another_bidders_upload_are_refused_and_nothing_is_written(stream_app, make_user, bidder, section):
    other = Bidder(make_user, section)
    data = bidder.seal()
    upload = upload_create(actor=bidder.user, section=section, size=len(data))
    status, body = stream_put(stream_app, upload.pk, 0, [data], headers=token_header(other.user))
    assert status == 404 and set(body) == {"code", "message", "fields"}
    upload.refresh_from_db()
    assert upload.received == 0 and part_file(upload) == b""
    status, body = stream_put(stream_app, upload.pk, 0, [data])  # nobody signed in
    assert status in (401, 403) and body["code"] == "NOT-AUTHENTICATED"
    assert part_file(upload) == b"" and not Bid.objects.exists()
    # Halfway through, the next chunk from someone else is refused just the same.
    assert stream_put(stream_app, upload.pk, 0, [data[:1000]], headers=token_header(bidder.user))[0] == 200
    status, body = stream_put(stream_app, upload.pk, 1000, [data[1000:]], headers=token_header(other.user))
    assert status == 404
    upload.refresh_from_db()
    assert upload.received == 1000 and len(part_file(upload)) == 1000 and not Bid.objects.exists()


@stream_db
def test_a_session_needs_the_csrf_token_on_the_streaming_endpoint_as_on_the_django_one(stream_app, client, bidder):
    data = bidder.seal()
    upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
    client.force_login(bidder.user)
    session = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    status, body = stream_put(stream_app, upload.pk, 0, [data], headers=session)
    assert status == 403 and "CSRF" in body["message"]
    assert part_file(upload) == b""
    token = "a" * 32
    with_csrf = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}".encode())]
    status, body = stream_put(stream_app, upload.pk, 0, [data], headers=[*with_csrf, (b"x-csrftoken", token.encode())])
    assert (status, body["received"]) == (200, len(data))


@stream_db
def test_BID_DEADLINE_streamed_chunks_after_the_deadline_are_refused_by_the_server_clock(stream_app, bidder, section):
    data = bidder.seal()
    auth = token_header(bidder.user)
    upload = upload_create(actor=bidder.user, section=section, size=len(data))
    stream_put(stream_app, upload.pk, 0, [data[:1000]], headers=auth)
    past_deadline(section)  # the scheduled job has not run
    status, body = stream_put(stream_app, upload.pk, 1000, [data[1000:]], headers=auth)
    assert (status, body["code"]) == (422, "BID-DEADLINE")
    upload.refresh_from_db()
    assert upload.received == 1000 and len(part_file(upload)) == 1000 and not Bid.objects.exists()


@stream_db
def test_BID_TOO_LARGE_a_streamed_chunk_beyond_the_declared_size_is_refused(stream_app, bidder):
    data = bidder.seal()
    upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
    status, body = stream_put(stream_app, upload.pk, 0, [data + b"more"], headers=token_header(bidder.user))
    assert (status, body["code"], body["fields"]) == (400, "BID-TOO-LARGE", {"length": str(len(data))})
    upload.refresh_from_db()
    assert upload.received == 0 and part_file(upload) == b"" and not Bid.objects.exists()


@stream_db
def test_BID_ENCRYPTED_tampered_envelopes_streamed_in_are_refused_and_nothing_is_stored(stream_app, bidder):
    auth = token_header(bidder.user)
    for name, data in tamperings(bidder.seal()):
        upload = upload_create(actor=bidder.user, section=bidder.section, size=len(data))
        half = len(data) // 2
        for offset, piece in ((0, data[:half]), (half, data[half:])):
            assert stream_put(stream_app, upload.pk, offset, [piece], headers=auth)[0] == 200, name
        with pytest.raises(RuleViolation) as refused:
            upload_finalize(actor=bidder.user, upload_id=upload.pk)
        assert refused.value.code == "BID-ENCRYPTED", name
    assert not Bid.objects.exists()


@stream_db
def test_create_and_finalize_run_through_the_upload_endpoint_with_the_sites_checks(stream_app, make_user, client, bidder):
    """The upload's create and finalize take the streaming endpoint's threads, with the same middleware,
    authentication, permissions and answers as the rest of the API (the fallback app is never reached)."""
    data = bidder.seal()
    auth = token_header(bidder.user)
    create = f"/api/v1/sections/{bidder.section.public_id}/uploads/"
    status, body = stream_post(stream_app, create, json.dumps({"size": len(data)}).encode(), headers=auth)
    assert status == 201 and body["size"] == len(data) and body["received"] == 0
    upload_id = body["id"]
    assert stream_post(stream_app, create, b'{"size": 0}', headers=auth)[1]["code"] in {"INVALID", "VALIDATION"}
    assert stream_post(stream_app, create, b"{}" + b" " * (1 << 16), headers=auth)[0] == 413
    anonymous = client.post(create, {"size": 5}, content_type="application/json")
    assert stream_post(stream_app, create, json.dumps({"size": 5}).encode()) == (anonymous.status_code, anonymous.json())
    assert anonymous.status_code in {401, 403}
    assert stream_put(stream_app, upload_id, 0, [data], headers=auth)[0] == 200
    finalize = f"/api/v1/uploads/{upload_id}/finalize/"
    other = Bidder(make_user, bidder.section)
    assert stream_post(stream_app, finalize, headers=token_header(other.user))[0] == 404  # not its upload
    client.force_login(bidder.user)
    session = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    status, body = stream_post(stream_app, finalize, headers=session)
    assert status == 403 and "CSRF" in body["message"] and not Bid.objects.exists()
    status, body = stream_post(stream_app, finalize, headers=[*auth, (b"user-agent", b"bench")])
    assert status == 201 and body["receipt"]["receipt"]["digest"] == body["digest"] == E.hashlib.sha256(data).hexdigest()
    bid = Bid.objects.get()
    assert (bid.client_ip, bid.user_agent) == ("127.0.0.1", "bench")


@pytest.mark.parametrize(("language", "expected"), [("zh-hans", "密钥已保存在本浏览器"), ("en", "Keys")])
def test_the_bid_pages_script_speaks_the_pages_language(bidder, section, language, expected):
    """The script's messages come from the server's translations (json_script), not from the script."""
    from django.test import Client

    page = signed_in(Client(), bidder.user).get(f"/sections/{section.public_id}/bid/", HTTP_ACCEPT_LANGUAGE=language)
    texts = json.loads(re.search(r'<script id="bid-page-text" type="application/json">(.*?)</script>', page.content.decode())[1])
    assert texts["kept"].startswith(expected) and set(texts) >= {"made", "missing", "received", "withdraw"}
