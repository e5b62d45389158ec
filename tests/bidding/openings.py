"""Sections with sealed bids past their deadline, ready to open: the opening tests' world."""

import io
import json

from django.utils import timezone

from bidding import envelope as E
from bidding.models import Bid, KeyShare
from bidding.services import registration_create
from bidding.submission import upload_create, upload_finalize, upload_write
from tests.factories import OrganizationFactory, SectionFactory, UserFactory
from trading.models import OrganizationKind, Role
from trading.services.sections import section_publish

PASSPHRASE = "custodian-passphrase-1"


class SealedBidder:
    """A bidder with its own keys, registered on a section, that seals and uploads like the CLI does."""

    def __init__(self, section, name: str | None = None):
        organization = OrganizationFactory(kind=OrganizationKind.BIDDER, **({"name": name} if name else {}))
        self.user = UserFactory(role=Role.BIDDER, organization=organization)
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
        self.files: dict = {}

    @property
    def code(self) -> str:
        return self.registration.bidder_code

    def seal(self, *, price: int, files: dict | None = None, opening_public_key=None, chunk_size: int = 65536) -> bytes:
        default = {"technical": ("技术标.txt", "text/plain", f"技术方案 {self.code} ".encode() * 500)}
        self.files = files if files is not None else default
        out = io.BytesIO()
        E.seal(
            section=self.section.public_id,
            bidder_code=self.code,
            opening_public_key=opening_public_key or E.load_public_key(self.section.opening_key.public_key),
            bidder_public_key=self.encryption.public_key(),
            signing_private_key=self.signing,
            form={"price_fen": price, "currency": "CNY", "duration_days": 180, "fields": {"项目经理": f"经理{self.code}"}},
            files=self.files,
            out=out,
            chunk_size=chunk_size,
        )
        return out.getvalue()

    def seal_to_the_wrong_key(self, *, price: int) -> bytes:
        """Sealed to another opening key but claiming the section's: the bidder's own mistake, signed by it."""
        data = self.seal(price=price, opening_public_key=E.generate_key().public_key())
        length = int.from_bytes(data[8:12], "big")
        header = json.loads(data[12 : 12 + length])
        header["manifest"]["opening_key"] = self.section.opening_key.fingerprint
        header["signature"] = E.sign_manifest(signing_private_key=self.signing, manifest=header["manifest"])
        raw = E.canonical_json(header)
        assert len(raw) == length
        return E.MAGIC + len(raw).to_bytes(4, "big") + raw + data[12 + length :]

    def submit(self, data: bytes) -> Bid:
        upload = upload_create(actor=self.user, section=self.section, size=len(data))
        upload_write(actor=self.user, upload_id=upload.pk, offset=0, stream=io.BytesIO(data), length=len(data))
        return upload_finalize(actor=self.user, upload_id=upload.pk)

    def data_keys(self) -> dict[str, str]:
        """在线解密 on the bidder's side: its own key unwraps its parts' data keys; only those are sent."""
        from bidding.decrypt import unwrap_data_keys

        bid = Bid.objects.get(registration=self.registration, status=Bid.Status.ACTIVE)
        keys = unwrap_data_keys(manifest=bid.manifest, private_key=self.encryption, recipient="bidder")
        return {name: E.b64url(value) for name, value in keys.items()}


def published_section(staff, **kwargs):
    return section_publish(actor=staff, section=SectionFactory(**kwargs))


def past_deadline(section) -> None:
    now = timezone.now()
    section.bid_deadline = section.opening_at = now
    section.save(update_fields=["bid_deadline", "opening_at"])


def section_with_bids(staff, prices: list[int], *, names: list[str] | None = None):
    """A published section, one sealed bid per price, the deadline just passed (bidding not yet closed)."""
    section = published_section(staff)
    bidders = []
    for n, price in enumerate(prices):
        bidder = SealedBidder(section, name=(names[n] if names else None))
        bidder.submit(bidder.seal(price=price))
        bidders.append(bidder)
    past_deadline(section)
    section.refresh_from_db()
    return section, bidders


def custodians(section) -> list:
    """The section's key custodians in share order, each marked as having passed the second factor."""
    users = [share.custodian for share in KeyShare.objects.filter(opening_key__section=section).order_by("index")]
    for user in users:
        user.is_verified = lambda: True
    return users
