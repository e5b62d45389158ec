"""RFC 6962 / RFC 9162 section 2.1 Merkle tree hashing, proofs and their verification (hashlib only)."""

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # Stack of perfect subtrees, like a binary counter: O(n) hashes and no recursion.
    stack: list[tuple[int, bytes]] = []
    for leaf in leaf_hashes:
        size, digest = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
        stack.append((size, digest))
    digest = stack[-1][1]
    # The leftover perfect subtrees shrink left to right, so MTH folds them from the right.
    for _size, left in reversed(stack[:-1]):
        digest = node_hash(left, digest)
    return digest


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]); raises ValueError unless 0 <= index < n."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError("index out of range")
    return _path(leaf_hashes, index)


def _path(leaves: Sequence[bytes], m: int) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves[:k], m), root_from_leaf_hashes(leaves[k:])]
    return [*_path(leaves[k:], m - k), root_from_leaf_hashes(leaves[:k])]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]); raises ValueError unless 0 < old_size <= n."""
    if not 0 < old_size <= len(leaf_hashes):
        raise ValueError("old_size out of range")
    return _subproof(leaf_hashes, old_size, True)


def _subproof(leaves: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaf_hashes(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete), root_from_leaf_hashes(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, False), root_from_leaf_hashes(leaves[:k])]


def _is_hash(value: object) -> bool:
    # Verifiers take untrusted input: anything but a 32-byte digest is a failed proof, not an exception.
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_path(value: object) -> bool:
    # A str or bytes is a Sequence too, but never a list of digests.
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2; False, never an exception, for any bad input."""
    if not (_is_size(index) and _is_size(tree_size) and _is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not _is_path(proof) or not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0 or not _is_hash(p):
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2; False, never an exception, for any bad input."""
    if not (_is_size(old_size) and _is_size(new_size) and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if not _is_path(proof) or not 0 < old_size <= new_size:
        return False
    # The RFC covers first < second; an equal size is consistent only with itself, by an empty proof.
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    path = list(proof)
    if not path:
        return False
    # A power-of-two old tree is a complete subtree of the new one, so its root opens the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    if not _is_hash(fr):
        return False
    for c in path[1:]:
        if sn == 0 or not _is_hash(c):
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
