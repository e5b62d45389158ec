"""The audit log's Merkle tree against the published RFC 6962 test vectors, then against itself at random sizes.

Every expected hex below is copied verbatim from github.com/transparency-dev/merkle (the Certificate
Transparency / Trillian Merkle library), from the file named above each constant. A log that no other
implementation agrees with proves nothing to anyone.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go, LeafInputs().
LEAF_INPUTS = [
    bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]

# transparency-dev/merkle testonly/constants.go, NodeHashes(): [level][index] for every complete subtree of the 8 leaves.
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# transparency-dev/merkle testonly/constants.go, EmptyRootHash() and RootHashes() (indexed by tree size 0..8).
EMPTY_ROOT_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ROOTS = [
    EMPTY_ROOT_HEX,
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# transparency-dev/merkle proof/verify_test.go, inclusionProofs: (leaf, size, proof), leaf numbered from 1 there.
INCLUSION_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# transparency-dev/merkle proof/verify_test.go, consistencyProofs: (size1, size2, proof).
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# transparency-dev/merkle proof/verify_test.go, sha256SomeHash: a well-formed digest that is in no tree.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

# transparency-dev/merkle proof/proof_test.go, TestInclusion and TestConsistency: proofs as (level, index) node IDs,
# resolved through NODE_HASHES. Only the cases within 8 leaves that need no rehashing are taken.
INCLUSION_NODES = [
    (1, 0, []),
    (2, 0, [(0, 1)]),
    (2, 1, [(0, 0)]),
    (3, 1, [(0, 0), (0, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 5, [(0, 4), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
    (4, 2, [(0, 3), (1, 0)]),
    (5, 3, [(0, 2), (1, 0), (0, 4)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (6, 4, [(0, 5), (2, 0)]),
]
CONSISTENCY_NODES = [
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]),
    (2, 8, [(1, 1), (2, 1)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (1, 1, []),
    (2, 2, []),
    (3, 3, []),
    (4, 4, []),
    (5, 5, []),
    (7, 7, []),
    (8, 8, []),
    (2, 4, [(1, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (4, 6, [(1, 2)]),
]

HASHES = [leaf_hash(leaf) for leaf in LEAF_INPUTS]


def unhex(hexes):
    return [bytes.fromhex(h) for h in hexes]


def root(size):
    return bytes.fromhex(ROOTS[size])


def nodes(ids):
    return [bytes.fromhex(NODE_HASHES[level][index]) for level, index in ids]


def flipped(value, position, mask=8):
    return value[:position] + bytes([value[position] ^ mask]) + value[position + 1 :]


# Published vectors.


def test_empty_tree():
    assert EMPTY_ROOT.hex() == EMPTY_ROOT_HEX
    assert root_from_leaf_hashes([]).hex() == EMPTY_ROOT_HEX


@pytest.mark.parametrize("level", range(4))
def test_leaf_and_node_hashes_match_the_published_subtrees(level):
    width = 1 << level
    assert [root_from_leaf_hashes(HASHES[i : i + width]).hex() for i in range(0, 8, width)] == NODE_HASHES[level]
    if level == 0:
        assert [h.hex() for h in HASHES] == NODE_HASHES[0]
    else:
        below = nodes((level - 1, i) for i in range(len(NODE_HASHES[level - 1])))
        assert [node_hash(below[i], below[i + 1]).hex() for i in range(0, len(below), 2)] == NODE_HASHES[level]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size):
    assert root_from_leaf_hashes(HASHES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("leaf", "size", "expected"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_published_vectors(leaf, size, expected):
    index = leaf - 1
    proof = inclusion_proof(HASHES[:size], index)
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(HASHES[index], index, size, unhex(expected), root(size))


@pytest.mark.parametrize(("leaf", "size", "expected"), INCLUSION_PROOFS)
def test_published_inclusion_proofs_fail_when_corrupted(leaf, size, expected):
    # The probes of corruptInclusionProof in the same verify_test.go.
    index, proof, good_root, good_leaf = leaf - 1, unhex(expected), root(size), HASHES[leaf - 1]
    probes = [
        (index - 1, size, good_root, good_leaf, proof),
        (index + 1, size, good_root, good_leaf, proof),
        (index ^ 2, size, good_root, good_leaf, proof),
        (index, size * 2, good_root, good_leaf, proof),
        (index, size // 2, good_root, good_leaf, proof),
        (index, size, good_root, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, good_leaf, proof),
        (index, size, SOME_HASH, good_leaf, proof),
        (index, size, good_root, good_leaf, [*proof, b""]),
        (index, size, good_root, good_leaf, [*proof, good_root]),
        (index, size, good_root, good_leaf, [b"", *proof]),
        (index, size, good_root, good_leaf, [good_root, *proof]),
    ]
    probes += [
        (index, size, good_root, good_leaf, [*proof[:i], flipped(proof[i], 0), *proof[i + 1 :]]) for i in range(len(proof))
    ]
    if proof:
        probes.append((index, size, good_root, good_leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, good_root, good_leaf, [proof[0], SOME_HASH, *proof[1:]]))
    for probe_index, probe_size, probe_root, probe_leaf, probe_proof in probes:
        assert not verify_inclusion(probe_leaf, probe_index, probe_size, probe_proof, probe_root)


@pytest.mark.parametrize(("size1", "size2", "expected"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_published_vectors(size1, size2, expected):
    proof = consistency_proof(HASHES[:size2], size1)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(size1, size2, root(size1), root(size2), unhex(expected))


@pytest.mark.parametrize(("size1", "size2", "expected"), [v for v in CONSISTENCY_PROOFS if v[2]])
def test_published_consistency_proofs_fail_when_corrupted(size1, size2, expected):
    # The probes of corruptConsistencyProof in the same verify_test.go.
    proof, root1, root2 = unhex(expected), root(size1), root(size2)
    probes = [
        (size1 - 1, size2, root1, root2, proof),
        (size1 + 1, size2, root1, root2, proof),
        (size1 ^ 2, size2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2 // 2, root1, root2, proof),
        (size1, size2, b"WrongRoot", root2, proof),
        (size1, size2, root1, b"WrongRoot", proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, root1, root2, []),
        (size1, size2, root1, root2, [*proof, b""]),
        (size1, size2, root1, root2, [*proof, root1]),
        (size1, size2, root1, root2, [*proof, root2]),
        (size1, size2, root1, root2, [b"", *proof]),
        (size1, size2, root1, root2, [root1, *proof]),
        (size1, size2, root1, root2, [root2, *proof]),
        (size1, size2, root1, root2, [proof[0], *proof]),
        (size1, size2, root1, root2, proof[:-1]),
    ]
    probes += [(size1, size2, root1, root2, [*proof[:i], flipped(proof[i], 0, 16), *proof[i + 1 :]]) for i in range(len(proof))]
    for probe in probes:
        assert not verify_consistency(*probe)


def test_the_edge_cases_of_verify_consistency_in_verify_test_go():
    # TestVerifyConsistency in the same file, with its "don't care" roots made 32 bytes long.
    root1, root2, proof2 = bytes(32), bytes([1]) * 32, [EMPTY_ROOT]
    assert verify_consistency(1, 1, root2, root2, [])
    assert not verify_consistency(1, 1, root1, root2, [])
    assert not verify_consistency(1, 0, root1, root2, [])
    assert not verify_consistency(2, 1, root1, root2, [])
    assert not verify_consistency(1, 2, root1, root2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, root2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, proof2)


@pytest.mark.parametrize(("size", "index", "ids"), INCLUSION_NODES)
def test_inclusion_proofs_take_the_published_nodes(size, index, ids):
    assert inclusion_proof(HASHES[:size], index) == nodes(ids)


@pytest.mark.parametrize(("size1", "size2", "ids"), CONSISTENCY_NODES)
def test_consistency_proofs_take_the_published_nodes(size1, size2, ids):
    assert consistency_proof(HASHES[:size2], size1) == nodes(ids)
    assert verify_consistency(size1, size2, root(size1), root(size2), nodes(ids))


def test_proof_generation_refuses_impossible_requests():
    for index in (-1, 8):
        with pytest.raises(ValueError):
            inclusion_proof(HASHES, index)
    for old_size in (0, 9):
        with pytest.raises(ValueError):
            consistency_proof(HASHES, old_size)


JUNK = [None, "", "00" * 32, 1.0, -1, True, b"", bytes(31), bytes(33), bytearray(32), [bytes(32)], object()]


@pytest.mark.parametrize("junk", JUNK)
def test_verifiers_answer_false_to_junk_instead_of_raising(junk):
    good_root, leaf, proof = root(8), HASHES[0], unhex(INCLUSION_PROOFS[1][2])
    for args in [
        (junk, 0, 8, proof, good_root),
        (leaf, junk, 8, proof, good_root),
        (leaf, 0, junk, proof, good_root),
        (leaf, 0, 8, junk, good_root),
        (leaf, 0, 8, [junk, *proof[1:]], good_root),
        (leaf, 0, 8, [*proof, junk], good_root),
        (leaf, 0, 8, proof, junk),
    ]:
        assert verify_inclusion(*args) is False
    root1, proof = root(6), unhex(CONSISTENCY_PROOFS[2][2])
    for args in [
        (junk, 8, root1, good_root, proof),
        (6, junk, root1, good_root, proof),
        (6, 8, junk, good_root, proof),
        (6, 8, root1, junk, proof),
        (6, 8, root1, good_root, junk),
        (6, 8, root1, good_root, [junk, *proof[1:]]),
        (6, 8, root1, good_root, [*proof, junk]),
        (8, 8, good_root, good_root, junk),
        (4, 8, junk, good_root, [proof[-1]]),
    ]:
        assert verify_consistency(*args) is False


# Properties at random sizes.


def synthetic(size, salt):
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


hash_bytes = st.binary(min_size=32, max_size=32)
masks = st.integers(1, 255)


@settings(deadline=None)
@given(size=st.integers(1, 300), salt=st.binary(max_size=8), data=st.data())
def test_every_inclusion_proof_verifies_and_any_change_fails(size, salt, data):
    leaves = synthetic(size, salt)
    tree_root = root_from_leaf_hashes(leaves)
    proofs = [inclusion_proof(leaves, index) for index in range(size)]
    for index, proof in enumerate(proofs):
        assert verify_inclusion(leaves[index], index, size, proof, tree_root)

    index = data.draw(st.integers(0, size - 1), label="index")
    mask = data.draw(masks, label="mask")
    leaf, proof = leaves[index], proofs[index]
    for wrong in [*range(size), -1, size, size + 1]:
        assert wrong == index or not verify_inclusion(leaf, wrong, size, proof, tree_root)
    # Only sizes that change the path length: a root does not bind its size (nearby sizes can verify),
    # which is why a checkpoint signs the size together with the root.
    for wrong_size in (2 * size, size // 2):
        assert not verify_inclusion(leaf, index, wrong_size, proof, tree_root)
    for position in range(32):
        assert not verify_inclusion(leaf, index, size, proof, flipped(tree_root, position, mask))
        assert not verify_inclusion(flipped(leaf, position, mask), index, size, proof, tree_root)
        for k in range(len(proof)):
            bad = [*proof[:k], flipped(proof[k], position, mask), *proof[k + 1 :]]
            assert not verify_inclusion(leaf, index, size, bad, tree_root)
    assert not verify_inclusion(leaf, index, size, [*proof, data.draw(hash_bytes)], tree_root)
    if proof:
        assert not verify_inclusion(leaf, index, size, proof[:-1], tree_root)


@settings(deadline=None)
@given(size=st.integers(1, 300), salt=st.binary(max_size=8), data=st.data())
def test_every_consistency_proof_verifies_and_any_change_fails(size, salt, data):
    leaves = synthetic(size, salt)
    roots = [root_from_leaf_hashes(leaves[:m]) for m in range(size + 1)]
    proofs = [[], *(consistency_proof(leaves, m) for m in range(1, size + 1))]
    for m in range(1, size + 1):
        assert verify_consistency(m, size, roots[m], roots[size], proofs[m])

    m = data.draw(st.integers(1, size), label="old_size")
    mask = data.draw(masks, label="mask")
    old, new, proof = roots[m], roots[size], proofs[m]
    for wrong in [*range(size + 2), -1]:
        assert wrong == m or not verify_consistency(wrong, size, old, new, proof)
    # As for inclusion, only a new size that changes the path length must fail; any wrong old size does.
    for wrong_size in (2 * size, size // 2):
        assert not verify_consistency(m, wrong_size, old, new, proof)
    if m < size:
        assert not verify_consistency(m, size, new, old, proof)
        assert not verify_consistency(m, size, old, new, [])
    for position in range(32):
        assert not verify_consistency(m, size, flipped(old, position, mask), new, proof)
        assert not verify_consistency(m, size, old, flipped(new, position, mask), proof)
        for k in range(len(proof)):
            bad = [*proof[:k], flipped(proof[k], position, mask), *proof[k + 1 :]]
            assert not verify_consistency(m, size, old, new, bad)
    assert not verify_consistency(m, size, old, new, [*proof, data.draw(hash_bytes)])
    if proof:
        assert not verify_consistency(m, size, old, new, proof[:-1])


@given(
    leaf=st.binary(max_size=40),
    index=st.integers(-(2**70), 2**70),
    size=st.integers(-(2**70), 2**70),
    proof=st.lists(st.binary(max_size=40), max_size=80),
    tree_root=st.binary(max_size=40),
)
def test_verify_inclusion_never_raises(leaf, index, size, proof, tree_root):
    assert verify_inclusion(leaf, index, size, proof, tree_root) in (True, False)


@given(
    old_size=st.integers(-(2**70), 2**70),
    new_size=st.integers(-(2**70), 2**70),
    old=st.binary(max_size=40),
    new=st.binary(max_size=40),
    proof=st.lists(st.binary(max_size=40), max_size=80),
)
def test_verify_consistency_never_raises(old_size, new_size, old, new, proof):
    assert verify_consistency(old_size, new_size, old, new, proof) in (True, False)


def test_a_hundred_thousand_leaves_is_cheap():
    leaves = synthetic(100_000, b"")
    tree_root = root_from_leaf_hashes(leaves)
    assert verify_inclusion(leaves[77_777], 77_777, 100_000, inclusion_proof(leaves, 77_777), tree_root)
    assert verify_consistency(
        65_537, 100_000, root_from_leaf_hashes(leaves[:65_537]), tree_root, consistency_proof(leaves, 65_537)
    )
