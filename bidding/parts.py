"""Opened parts' plaintext digests, computed when first needed (the collusion scan), not during the opening."""

import hashlib

from bidding.models import OpenedPart

CHUNK = 1 << 20


def opened_part_digest(*, part: OpenedPart) -> str:
    """The part's plaintext SHA-256: the stored one, or streamed from its file once and saved."""
    if part.sha256:
        return part.sha256
    digest = hashlib.sha256()
    with part.file.open("rb") as fh:
        while data := fh.read(CHUNK):
            digest.update(data)
    part.sha256 = digest.hexdigest()
    # Only fills an empty field: two scans racing compute the same value; neither overwrites a stored one.
    OpenedPart.objects.filter(pk=part.pk, sha256__isnull=True).update(sha256=part.sha256)
    return part.sha256
