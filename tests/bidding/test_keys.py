"""The opening key ceremony: k-of-n custodians, commitments, quorum checks (pure, no database)."""

import io
import itertools

import pytest

from bidding import envelope as E
from bidding import keys

SECTION = "S-KEYS-0001"


@pytest.fixture(scope="module")
def ceremony_3_of_5():
    custodian_keys = [E.generate_key() for _ in range(5)]
    ceremony = keys.generate_opening_key(
        section=SECTION, custodians=[(f"c{i}", k.public_key()) for i, k in enumerate(custodian_keys)], threshold=3
    )
    shares = [
        keys.unseal_share(section=SECTION, index=s["index"], sealed=s["sealed"], custodian_key=custodian_keys[n])
        for n, s in enumerate(ceremony.sealed_shares)
    ]
    commitments = {s["index"]: s["commitment"] for s in ceremony.sealed_shares}
    bidder, signing = E.generate_key(), E.generate_key()
    out = io.BytesIO()
    E.seal(
        section=SECTION,
        bidder_code="B-0001",
        opening_public_key=ceremony.public_key,
        bidder_public_key=bidder.public_key(),
        signing_private_key=signing,
        form={"price_fen": 777},
        files={},
        out=out,
        chunk_size=65536,
    )
    return ceremony, shares, commitments, out.getvalue()


def rebuild(ceremony, shares, commitments):
    return keys.rebuild_private_key(
        section=SECTION, shares=list(shares), commitments=commitments, fingerprint=ceremony.fingerprint, threshold=3
    )


def test_all_10_quorums_of_3_open_a_bid(ceremony_3_of_5):
    ceremony, shares, commitments, envelope = ceremony_3_of_5
    quorums = list(itertools.combinations(shares, 3))
    assert len(quorums) == 10
    for quorum in quorums:
        key = rebuild(ceremony, quorum, commitments)
        assert E.open_form(io.BytesIO(envelope), private_key=key, recipient="opening")["price_fen"] == 777


def test_all_10_pairs_fail(ceremony_3_of_5):
    ceremony, shares, commitments, _envelope = ceremony_3_of_5
    pairs = list(itertools.combinations(shares, 2))
    assert len(pairs) == 10
    for pair in pairs:
        with pytest.raises(keys.KeyError_) as refused:
            rebuild(ceremony, pair, commitments)
        assert refused.value.code == "KEY-QUORUM"


def test_a_forged_share_is_caught_by_its_commitment(ceremony_3_of_5):
    ceremony, shares, commitments, _envelope = ceremony_3_of_5
    index, share = shares[0]
    forged = (index, bytes([share[0] ^ 1]) + share[1:])
    for pair in itertools.combinations(shares[1:], 2):
        with pytest.raises(keys.KeyError_) as refused:
            rebuild(ceremony, [forged, *pair], commitments)
        assert refused.value.code == "KEY-SHARE-INVALID" and str(index) in refused.value.message


def test_a_share_from_another_ceremony_is_caught(ceremony_3_of_5):
    ceremony, shares, commitments, _envelope = ceremony_3_of_5
    other_keys = [E.generate_key() for _ in range(5)]
    other = keys.generate_opening_key(
        section=SECTION, custodians=[(str(i), k.public_key()) for i, k in enumerate(other_keys)], threshold=3
    )
    stranger = keys.unseal_share(
        section=SECTION,
        index=other.sealed_shares[0]["index"],
        sealed=other.sealed_shares[0]["sealed"],
        custodian_key=other_keys[0],
    )
    with pytest.raises(keys.KeyError_):
        rebuild(ceremony, [stranger, shares[1], shares[2]], commitments)


def test_a_share_opens_only_with_its_custodians_key(ceremony_3_of_5):
    ceremony, _shares, _commitments, _envelope = ceremony_3_of_5
    sealed = ceremony.sealed_shares[0]
    with pytest.raises(keys.KeyError_) as refused:
        keys.unseal_share(section=SECTION, index=sealed["index"], sealed=sealed["sealed"], custodian_key=E.generate_key())
    assert refused.value.code == "KEY-SHARE-INVALID"


def test_a_passphrase_derives_the_same_custodian_key_and_another_does_not():
    light = {"name": "argon2id", "iterations": 1, "lanes": 1, "memory_cost": 64}
    salt = b"0123456789abcdef"
    a = keys.derive_custodian_key("correct horse battery", salt, light).public_key()
    b = keys.derive_custodian_key("correct horse battery", salt, light).public_key()
    c = keys.derive_custodian_key("correct horse batterY", salt, light).public_key()
    assert E.public_key_fingerprint(a) == E.public_key_fingerprint(b) != E.public_key_fingerprint(c)
