"""The opening key ceremony: k-of-n custodians, commitments, quorum checks (pure Python, no database)."""

import dataclasses
import io
import itertools
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bidding import envelope as E
from bidding import keys

SECTION = "S-KEYS-0001"
LIGHT_KDF = {"name": "argon2id", "iterations": 1, "lanes": 1, "memory_cost": 64}  # tests only


def make_ceremony(n: int = 5, threshold: int = 3, section: str = SECTION):
    custodian_keys = [E.generate_key() for _ in range(n)]
    ceremony = keys.generate_opening_key(
        section=section, custodians=[(f"c{i}", k.public_key()) for i, k in enumerate(custodian_keys)], threshold=threshold
    )
    shares = [
        keys.unseal_share(section=section, index=s["index"], sealed=s["sealed"], custodian_key=custodian_keys[n])
        for n, s in enumerate(ceremony.sealed_shares)
    ]
    return ceremony, custodian_keys, shares


@pytest.fixture(scope="module")
def three_of_five():
    ceremony, custodian_keys, shares = make_ceremony()
    out = io.BytesIO()
    E.seal(
        section=SECTION,
        bidder_code="B-0001",
        opening_public_key=ceremony.public_key,
        bidder_public_key=E.generate_key().public_key(),
        signing_private_key=E.generate_key(),
        form={"price_fen": 777},
        files={"technical": ("t.zip", "application/zip", b"technical bid")},
        out=out,
        chunk_size=65536,
    )
    return ceremony, custodian_keys, shares, out.getvalue()


def rebuild(ceremony, shares, *, commitments=None, section=SECTION):
    return keys.rebuild_private_key(
        section=section,
        shares=list(shares),
        commitments=ceremony.commitments if commitments is None else commitments,
        fingerprint=ceremony.fingerprint,
        threshold=ceremony.threshold,
    )


def refusal(call, *args, **kwargs) -> keys.KeyCeremonyError:
    with pytest.raises(keys.KeyCeremonyError) as refused:
        call(*args, **kwargs)
    return refused.value


# --- quorums --------------------------------------------------------------------------------


def test_all_10_quorums_of_3_rebuild_the_key_and_open_a_bid(three_of_five):
    # Given a 3-of-5 ceremony and a bid sealed to its public key
    ceremony, _keys, shares, envelope = three_of_five
    quorums = list(itertools.combinations(shares, 3))
    assert len(quorums) == 10
    for quorum in quorums:
        # When a quorum rebuilds the key
        key = rebuild(ceremony, quorum)
        # Then it is the section's key, and it opens the bid form and the files
        assert E.public_key_fingerprint(key.public_key()) == ceremony.fingerprint
        assert E.open_form(io.BytesIO(envelope), private_key=key, recipient="opening") == {"price_fen": 777}
        out = io.BytesIO()
        E.open_part(io.BytesIO(envelope), private_key=key, recipient="opening", part_name="technical", out=out)
        assert out.getvalue() == b"technical bid"


def test_more_than_a_quorum_rebuilds_the_same_key(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    for size in (4, 5):
        for group in itertools.combinations(shares, size):
            assert (
                rebuild(ceremony, group).private_numbers().private_value
                == rebuild(ceremony, shares[:3]).private_numbers().private_value
            )


def test_all_10_pairs_fail(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    pairs = list(itertools.combinations(shares, 2))
    assert len(pairs) == 10
    for pair in pairs:
        refused = refusal(rebuild, ceremony, pair)
        assert (refused.code, refused.message) == ("KEY-QUORUM", "3 distinct shares are needed, 2 given")


def test_a_pair_interpolated_by_hand_is_not_the_key(three_of_five):
    # Shamir below the threshold gives some number, never the key: the ceremony checked it for every group of 2
    ceremony, _keys, shares, _envelope = three_of_five
    for pair in itertools.combinations(shares, 2):
        assert not keys._rebuilds(list(pair), ceremony.fingerprint)


def test_one_share_presented_three_times_is_not_a_quorum(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    refused = refusal(rebuild, ceremony, [shares[0]] * 3)
    assert (refused.code, refused.message) == ("KEY-QUORUM", "3 distinct shares are needed, 1 given")


# --- forged shares ----------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 15, 16, 31])
def test_a_share_with_one_byte_changed_is_caught_by_its_commitment(three_of_five, position):
    # Given a share with one byte changed, among two good ones
    ceremony, _keys, shares, _envelope = three_of_five
    index, share = shares[0]
    forged = (index, share[:position] + bytes([share[position] ^ 0x01]) + share[position + 1 :])
    for pair in itertools.combinations(shares[1:], 2):
        # Then the rebuild refuses it by name, never producing a wrong key
        refused = refusal(rebuild, ceremony, [forged, *pair])
        assert (refused.code, refused.message) == ("KEY-SHARE-INVALID", f"share {index} does not match its published commitment")


def test_a_share_from_another_ceremony_is_caught(three_of_five):
    # Given a share of the same index from another ceremony for the same section
    ceremony, _keys, shares, _envelope = three_of_five
    _other, _other_keys, other_shares = make_ceremony()
    stranger = other_shares[0]
    assert stranger[0] == shares[0][0]
    refused = refusal(rebuild, ceremony, [stranger, shares[1], shares[2]])
    assert (refused.code, refused.message) == (
        "KEY-SHARE-INVALID",
        f"share {stranger[0]} does not match its published commitment",
    )


def test_a_share_presented_under_another_index_is_caught(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    relabelled = (shares[4][0], shares[0][1])
    refused = refusal(rebuild, ceremony, [relabelled, shares[1], shares[2]])
    assert refused.code == "KEY-SHARE-INVALID"


def test_a_share_of_the_wrong_length_is_refused(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    refused = refusal(keys.verify_share, section=SECTION, share=(1, shares[0][1][:16]), commitments=ceremony.commitments)
    assert (refused.code, refused.message) == ("KEY-SHARE-INVALID", "share 1 is malformed (index, 32 bytes)")


def test_a_share_checked_against_another_sections_commitments_is_refused(three_of_five):
    ceremony, _keys, shares, _envelope = three_of_five
    refused = refusal(keys.verify_share, section="S-OTHER", share=shares[0], commitments=ceremony.commitments)
    assert refused.code == "KEY-SHARE-INVALID"
    keys.verify_share(section=SECTION, share=shares[0], commitments=ceremony.commitments)  # and the right one passes


def test_shares_that_pass_their_commitments_but_rebuild_another_key_are_refused(three_of_five):
    # Given the quorum of another ceremony with its own commitments, against this ceremony's fingerprint
    ceremony, _keys, _shares, _envelope = three_of_five
    other, _other_keys, other_shares = make_ceremony()
    refused = refusal(rebuild, ceremony, other_shares[:3], commitments=other.commitments)
    assert (refused.code, refused.message) == ("KEY-QUORUM", "the shares do not rebuild the section's opening key")


# --- sealing shares to custodians ----------------------------------------------------------------


def test_a_share_opens_only_with_its_custodians_key_index_and_section(three_of_five):
    ceremony, custodian_keys, _shares, _envelope = three_of_five
    sealed = ceremony.sealed_shares[0]
    attempts = [
        {"index": sealed["index"], "custodian_key": custodian_keys[1], "section": SECTION},  # another custodian
        {"index": sealed["index"] + 1, "custodian_key": custodian_keys[0], "section": SECTION},  # another index
        {"index": sealed["index"], "custodian_key": custodian_keys[0], "section": "S-OTHER"},  # another section
    ]
    for attempt in attempts:
        refused = refusal(keys.unseal_share, sealed=sealed["sealed"], **attempt)
        assert (refused.code, refused.message) == (
            "KEY-SHARE-INVALID",
            f"share {attempt['index']} does not open with this custodian's key",
        )


def test_the_ceremony_keeps_no_private_key_and_its_record_is_plain_json(three_of_five):
    # Given a finished ceremony, and the private key a quorum rebuilds
    ceremony, _keys, shares, _envelope = three_of_five
    scalar = rebuild(ceremony, shares[:3]).private_numbers().private_value.to_bytes(32, "big")
    # Then it holds only public things
    assert [f.name for f in dataclasses.fields(ceremony)] == [
        "section",
        "public_key",
        "fingerprint",
        "threshold",
        "sealed_shares",
    ]
    assert not any(isinstance(getattr(ceremony, f.name), ec.EllipticCurvePrivateKey) for f in dataclasses.fields(ceremony))
    # And the sealed shares are JSON with the published commitments, without the key or a share in clear
    record = json.dumps(ceremony.sealed_shares)
    assert all(sorted(s) == ["commitment", "custodian", "index", "sealed"] for s in ceremony.sealed_shares)
    assert [s["index"] for s in ceremony.sealed_shares] == [1, 2, 3, 4, 5]
    assert [s["custodian"] for s in ceremony.sealed_shares] == ["c0", "c1", "c2", "c3", "c4"]
    for secret in [scalar, *(share for _i, share in shares)]:
        assert secret.hex() not in record and E.b64url(secret) not in record
    assert ceremony.commitments == {i: keys.share_commitment(section=SECTION, index=i, share=share) for i, share in shares}


def test_the_ceremony_refuses_to_finish_when_a_quorum_would_not_rebuild_the_key(monkeypatch):
    # Given a split that damages one share (as a faulty library or memory would)
    split = keys._split

    def damaged(scalar, threshold, count):
        shares = split(scalar, threshold, count)
        index, share = shares[-1]
        return [*shares[:-1], (index, bytes([share[0] ^ 1]) + share[1:])]

    monkeypatch.setattr(keys, "_split", damaged)
    # Then the ceremony stops before sealing anything
    refused = refusal(
        keys.generate_opening_key, section=SECTION, custodians=[(str(i), E.generate_key().public_key()) for i in range(3)]
    )
    assert (refused.code, refused.message) == ("KEY-CEREMONY", "the quorum [1, 3] failed to rebuild the key")


def test_the_ceremony_refuses_when_fewer_than_a_quorum_would_rebuild_the_key(monkeypatch):
    # Given a split with the threshold silently lowered to 1 (every share is the key)
    split = keys._split
    monkeypatch.setattr(keys, "_split", lambda scalar, threshold, count: split(scalar, 1, count))
    refused = refusal(
        keys.generate_opening_key, section=SECTION, custodians=[(str(i), E.generate_key().public_key()) for i in range(3)]
    )
    assert (refused.code, refused.message) == ("KEY-CEREMONY", "fewer than a quorum ([1]) rebuilt the key")


@pytest.mark.parametrize(
    ("n", "threshold", "message"),
    [
        (3, 1, "need 2 <= threshold (1) <= custodians (3) <= 16"),
        (2, 3, "need 2 <= threshold (3) <= custodians (2) <= 16"),
        (17, 2, "need 2 <= threshold (2) <= custodians (17) <= 16"),
    ],
)
def test_the_ceremony_refuses_impossible_thresholds(n, threshold, message):
    custodians = [(str(i), E.generate_key().public_key()) for i in range(n)]
    refused = refusal(keys.generate_opening_key, section=SECTION, custodians=custodians, threshold=threshold)
    assert (refused.code, refused.message) == ("KEY-CUSTODIANS", message)


def test_one_custodian_cannot_hold_two_shares():
    key = E.generate_key().public_key()
    refused = refusal(keys.generate_opening_key, section=SECTION, custodians=[("a", key), ("a", key), ("b", key)])
    assert (refused.code, refused.message) == ("KEY-CUSTODIANS", "a custodian may hold one share only")


def test_the_default_is_2_of_n():
    ceremony, _keys, shares = make_ceremony(n=3, threshold=2)
    default = keys.generate_opening_key(section=SECTION, custodians=[(str(i), E.generate_key().public_key()) for i in range(3)])
    assert default.threshold == 2
    assert E.public_key_fingerprint(rebuild(ceremony, shares[1:]).public_key()) == ceremony.fingerprint


# --- custodian keys from passphrases ---------------------------------------------------------------


def test_a_passphrase_derives_the_same_custodian_key_and_another_does_not():
    salt = b"0123456789abcdef"
    a = keys.derive_custodian_key("correct horse battery", salt, LIGHT_KDF).public_key()
    b = keys.derive_custodian_key("correct horse battery", salt, LIGHT_KDF).public_key()
    c = keys.derive_custodian_key("correct horse batterY", salt, LIGHT_KDF).public_key()
    d = keys.derive_custodian_key("correct horse battery", b"another salt 16b", LIGHT_KDF).public_key()
    assert E.public_key_fingerprint(a) == E.public_key_fingerprint(b)
    assert len({E.public_key_fingerprint(k) for k in (a, c, d)}) == 3


def test_production_custodian_keys_are_memory_hard():
    assert keys.CUSTODIAN_KDF == {"name": "argon2id", "iterations": 3, "lanes": 1, "memory_cost": 64 * 1024}


def test_a_custodian_opens_its_share_with_its_passphrase_end_to_end():
    # Given custodians enrolled from passphrases (public keys only kept), and a 2-of-3 ceremony
    salts = [bytes([i]) * 16 for i in range(3)]
    phrases = ["staff passphrase 1", "supervisor passphrase", "tenderer passphrase"]
    public = [keys.derive_custodian_key(p, s, LIGHT_KDF).public_key() for p, s in zip(phrases, salts, strict=True)]
    ceremony = keys.generate_opening_key(section=SECTION, custodians=[(str(i), k) for i, k in enumerate(public)])
    # When two custodians type their passphrases at the opening
    shares = [
        keys.unseal_share(
            section=SECTION,
            index=sealed["index"],
            sealed=sealed["sealed"],
            custodian_key=keys.derive_custodian_key(phrases[n], salts[n], LIGHT_KDF),
        )
        for n, sealed in list(enumerate(ceremony.sealed_shares))[1:]
    ]
    # Then the key is rebuilt; a mistyped passphrase opens nothing
    assert E.public_key_fingerprint(rebuild(ceremony, shares).public_key()) == ceremony.fingerprint
    wrong = keys.derive_custodian_key("staff passphrase 2", salts[0], LIGHT_KDF)
    sealed = ceremony.sealed_shares[0]
    assert (
        refusal(keys.unseal_share, section=SECTION, index=1, sealed=sealed["sealed"], custodian_key=wrong).code
        == "KEY-SHARE-INVALID"
    )
