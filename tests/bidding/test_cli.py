"""The bidder's command-line tool, end to end on files (pure Python, no database)."""

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bidding import cli, receipts
from bidding import envelope as E

ROOT = Path(__file__).resolve().parents[2]
PASS = "bidder passphrase 投标"
FORM = {"price_fen": 98_765_432, "currency": "CNY", "duration_days": 90, "fields": {"项目经理": "李工"}}
OPENING = E.generate_key()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def bidder(tmp_path, capsys):
    """A bidder with a key file, a form, two files and a sealed envelope."""
    status, out, _err = run(
        capsys, "keygen", "--out", str(tmp_path / "keys.json"), "--passphrase", PASS, "--iterations", "100000"
    )
    assert status == 0
    public = json.loads(out)
    (tmp_path / "form.json").write_text(json.dumps(FORM, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "商务标.pdf").write_bytes(b"%PDF-1.7 commercial " * 5000)
    (tmp_path / "tech.zip").write_bytes(os.urandom(200_000))
    argv = ["seal", "--keys", str(tmp_path / "keys.json"), "--passphrase", PASS, "--section", "S-CLI-1", "--bidder-code", "B-CL1"]
    argv += ["--opening-key", E.public_key_text(OPENING.public_key()), "--form", str(tmp_path / "form.json")]
    argv += ["--commercial", str(tmp_path / "商务标.pdf"), "--technical", str(tmp_path / "tech.zip")]
    status, out, _err = run(capsys, *argv, "--out", str(tmp_path / "bid.env"), "--chunk-size", "65536")
    assert status == 0
    return tmp_path, public, json.loads(out)


def test_keygen_writes_a_private_key_file_only_the_owner_reads_and_prints_the_public_keys(bidder):
    tmp_path, public, _sealed = bidder
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    keys = E.import_key_file((tmp_path / "keys.json").read_bytes(), passphrase=PASS)
    assert public == {
        "signing_public_key": E.public_key_text(keys.signing.public_key()),
        "encryption_public_key": E.public_key_text(keys.encryption.public_key()),
        "signing_key": E.public_key_fingerprint(keys.signing.public_key()),
        "bidder_key": E.public_key_fingerprint(keys.encryption.public_key()),
    }
    assert PASS.encode() not in (tmp_path / "keys.json").read_bytes()


def test_keygen_never_overwrites_a_key_file(bidder, capsys):
    tmp_path, _public, _sealed = bidder
    before = (tmp_path / "keys.json").read_bytes()
    status, _out, err = run(capsys, "keygen", "--out", str(tmp_path / "keys.json"), "--passphrase", PASS)
    assert status == 2 and "File exists" in err
    assert (tmp_path / "keys.json").read_bytes() == before


def test_seal_prints_the_digest_the_receipt_will_carry(bidder):
    tmp_path, _public, sealed = bidder
    data = (tmp_path / "bid.env").read_bytes()
    assert sealed == {
        "out": str(tmp_path / "bid.env"),
        "size": len(data),
        "digest": hashlib.sha256(data).hexdigest(),
        "parts": ["form", "commercial", "technical"],
    }


def test_inspect_with_the_signing_key_makes_the_servers_checks(bidder, capsys):
    tmp_path, public, sealed = bidder
    argv = ["inspect", str(tmp_path / "bid.env"), "--signing-key", public["signing_public_key"], "--section", "S-CLI-1"]
    status, out, _err = run(capsys, *argv, "--bidder-code", "B-CL1", "--opening-key", E.public_key_text(OPENING.public_key()))
    report = json.loads(out)
    assert status == 0
    assert (report["signature"], report["structure"], report["digest"], report["size"]) == (
        "valid",
        "valid",
        sealed["digest"],
        sealed["size"],
    )
    assert report["manifest"]["bidder_key"] == public["bidder_key"]


def test_inspect_without_a_key_shows_the_manifest_and_digest(bidder, capsys):
    tmp_path, _public, sealed = bidder
    status, out, _err = run(capsys, "inspect", str(tmp_path / "bid.env"))
    report = json.loads(out)
    assert (status, report["signature"], report["digest"]) == (0, "not checked (no --signing-key)", sealed["digest"])
    assert [p["name"] for p in report["manifest"]["parts"]] == ["form", "commercial", "technical"]


def test_inspect_refuses_an_envelope_for_another_section(bidder, capsys):
    tmp_path, public, _sealed = bidder
    argv = ["inspect", str(tmp_path / "bid.env"), "--signing-key", public["signing_public_key"], "--section", "S-CLI-2"]
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err == "BID-ENCRYPTED: the envelope was sealed for another section (S-CLI-1, expected S-CLI-2)\n"


def test_inspect_refuses_a_truncated_file(bidder, capsys):
    tmp_path, _public, _sealed = bidder
    data = (tmp_path / "bid.env").read_bytes()
    (tmp_path / "cut.env").write_bytes(data[:-1])
    status, _out, err = run(capsys, "inspect", str(tmp_path / "cut.env"))
    assert (status, err) == (2, f"BID-ENCRYPTED: the file is {len(data) - 1} bytes, the header says {len(data)}\n")


def test_the_bidder_opens_its_own_bid_with_its_key_file(bidder, capsys):
    tmp_path, _public, _sealed = bidder
    argv = ["open", str(tmp_path / "bid.env"), "--keys", str(tmp_path / "keys.json"), "--passphrase", PASS]
    status, out, _err = run(capsys, *argv, "--out-dir", str(tmp_path / "mine"))
    report = json.loads(out)
    assert (status, report["recipient"], report["form"]) == (0, "bidder", FORM)
    assert (tmp_path / "mine" / "commercial" / "商务标.pdf").read_bytes() == (tmp_path / "商务标.pdf").read_bytes()
    assert (tmp_path / "mine" / "technical" / "tech.zip").read_bytes() == (tmp_path / "tech.zip").read_bytes()
    assert json.loads((tmp_path / "mine" / "form" / "form.json").read_text(encoding="utf-8")) == FORM
    assert report["parts"]["technical"] == {
        "filename": "tech.zip",
        "content_type": "application/octet-stream",
        "path": str(tmp_path / "mine" / "technical" / "tech.zip"),
        "size": 200_000,
    }


@pytest.mark.parametrize("passphrase", [None, "opening key pem passphrase"])
def test_a_rebuilt_opening_key_opens_the_bid(bidder, capsys, passphrase):
    tmp_path, _public, _sealed = bidder
    (tmp_path / "opening.pem").write_bytes(E.private_key_pem(OPENING, passphrase=passphrase))
    argv = ["open", str(tmp_path / "bid.env"), "--opening-private-key", str(tmp_path / "opening.pem"), "--part", "technical"]
    status, out, _err = run(
        capsys, *argv, *(["--passphrase", passphrase] if passphrase else []), "--out-dir", str(tmp_path / "o")
    )
    report = json.loads(out)
    assert (status, report["recipient"], report["form"], sorted(report["parts"])) == (0, "opening", FORM, ["technical"])
    assert (tmp_path / "o" / "technical" / "tech.zip").read_bytes() == (tmp_path / "tech.zip").read_bytes()


def test_another_key_cannot_open_and_nothing_is_written(bidder, capsys):
    tmp_path, _public, _sealed = bidder
    (tmp_path / "stranger.pem").write_bytes(E.private_key_pem(E.generate_key()))
    argv = ["open", str(tmp_path / "bid.env"), "--opening-private-key", str(tmp_path / "stranger.pem")]
    status, out, err = run(capsys, *argv, "--out-dir", str(tmp_path / "x"))
    assert (status, out, err) == (2, "", "OPEN-DECRYPT-FAIL: part form: the data key does not open with this opening key\n")
    assert not any(p.is_file() for p in (tmp_path / "x").rglob("*"))


def test_a_damaged_part_fails_naming_the_chunk_and_leaves_no_half_file(bidder, capsys):
    # Given an envelope with one bit flipped in the technical part's second chunk
    tmp_path, _public, _sealed = bidder
    data = bytearray((tmp_path / "bid.env").read_bytes())
    header = E.inspect(io.BytesIO(bytes(data)))
    data[header.part_offset("technical") + 65552 + 10] ^= 1
    (tmp_path / "damaged.env").write_bytes(bytes(data))
    # When the bidder opens it
    argv = ["open", str(tmp_path / "damaged.env"), "--keys", str(tmp_path / "keys.json"), "--passphrase", PASS]
    status, _out, err = run(capsys, *argv, "--out-dir", str(tmp_path / "d"))
    # Then it is refused by part and chunk, and the technical folder holds no partial file
    assert (status, err) == (
        2,
        "OPEN-DECRYPT-FAIL: part technical: chunk 1 fails authentication (damaged, truncated, reordered or spliced)\n",
    )
    assert list((tmp_path / "d" / "technical").iterdir()) == []


def test_a_wrong_passphrase_is_refused(bidder, capsys):
    tmp_path, _public, _sealed = bidder
    argv = ["open", str(tmp_path / "bid.env"), "--keys", str(tmp_path / "keys.json"), "--passphrase", "wrong"]
    status, _out, err = run(capsys, *argv, "--out-dir", str(tmp_path / "w"))
    assert (status, err) == (2, "KEY-FILE: wrong passphrase or damaged key file\n")


def test_the_passphrase_can_come_from_the_environment(bidder, capsys, monkeypatch):
    tmp_path, _public, _sealed = bidder
    monkeypatch.setenv("SUNLIGHT_PASSPHRASE", PASS)
    argv = ["open", str(tmp_path / "bid.env"), "--keys", str(tmp_path / "keys.json"), "--passphrase-env", "SUNLIGHT_PASSPHRASE"]
    assert run(capsys, *argv, "--out-dir", str(tmp_path / "e"))[0] == 0


def test_a_file_name_inside_the_envelope_cannot_escape_the_output_folder(tmp_path, capsys):
    # Given an envelope whose commercial file is named with a path
    keys = E.BidderKeys(signing=E.generate_key(), encryption=E.generate_key())
    (tmp_path / "keys.json").write_bytes(
        E.export_key_file(
            signing_private_key=keys.signing, encryption_private_key=keys.encryption, passphrase=PASS, iterations=100_000
        )
    )
    with open(tmp_path / "bid.env", "wb") as out:
        E.seal(
            section="S-1",
            bidder_code="B-1",
            opening_public_key=OPENING.public_key(),
            bidder_public_key=keys.encryption.public_key(),
            signing_private_key=keys.signing,
            form=FORM,
            files={"commercial": ("../../escape.txt", "text/plain", b"x"), "technical": ("..", "text/plain", b"y")},
            out=out,
        )
    # When it is opened
    argv = ["open", str(tmp_path / "bid.env"), "--keys", str(tmp_path / "keys.json"), "--passphrase", PASS]
    assert run(capsys, *argv, "--out-dir", str(tmp_path / "out"))[0] == 0
    # Then the files land inside the output folder under their last name component (or the part's name)
    assert (tmp_path / "out" / "commercial" / "escape.txt").read_bytes() == b"x"
    assert (tmp_path / "out" / "technical" / "technical").read_bytes() == b"y"
    assert not (tmp_path / "escape.txt").exists()


def raw_key(key: Ed25519PrivateKey) -> str:
    return E.b64url(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def write_receipt(tmp_path: Path, digest: str, key=None) -> tuple[Path, Ed25519PrivateKey]:
    key = key or Ed25519PrivateKey.generate()
    body = {"type": "sunlight-bid-receipt/v1", "section": "S-CLI-1", "bidder_code": "B-CL1", "digest": digest, "size": 1}
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipts.sign_receipt(private_key=key, receipt=body)), encoding="utf-8")
    return path, key


def test_verify_receipt_checks_the_signature_the_pinned_key_and_the_envelope(bidder, capsys):
    tmp_path, _public, sealed = bidder
    path, key = write_receipt(tmp_path, sealed["digest"])
    pinned = raw_key(key)
    status, out, _err = run(
        capsys, "verify-receipt", str(path), f"--platform-key={pinned}", "--envelope", str(tmp_path / "bid.env")
    )
    assert status == 0
    assert out.splitlines()[0] == "receipt: valid, signed with the platform key given"
    # A receipt for other bytes, or from another key, is refused with status 1
    (tmp_path / "other.env").write_bytes(b"other")
    status, _out, err = run(capsys, "verify-receipt", str(path), "--envelope", str(tmp_path / "other.env"))
    other_digest = hashlib.sha256(b"other").hexdigest()
    assert (status, err) == (
        1,
        f"receipt: INVALID (the receipt is for digest {sealed['digest']}, not this envelope ({other_digest}))\n",
    )
    other = raw_key(Ed25519PrivateKey.generate())
    status, _out, err = run(capsys, "verify-receipt", str(path), f"--platform-key={other}")  # a base64url key may start with "-"
    assert (status, err) == (1, "receipt: INVALID (signed by another key than the platform key given)\n")


def test_the_tool_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "bidding.cli", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0
    for command in ("keygen", "seal", "inspect", "open", "verify-receipt"):
        assert command in result.stdout
    # And it imports no Django: the bidder's machine has none
    probe = "import sys, bidding.cli, bidding.keys, bidding.receipts; print('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True).stdout == "False\n"
