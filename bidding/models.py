"""Registrations (报名): a bidder's entry into a section under a pseudonymous code."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Registration(models.Model):
    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="registrations")
    organization = models.ForeignKey("trading.Organization", on_delete=models.PROTECT, related_name="registrations")
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    bidder_code = models.CharField(_("投标人编号"), max_length=16)
    contact_name = models.CharField(_("联系人"), max_length=100)
    contact_phone = models.CharField(_("联系电话"), max_length=32)
    qualifications = models.JSONField(_("资格声明"), default=dict)
    signing_public_key = models.TextField(blank=True)
    encryption_public_key = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("报名")
        verbose_name_plural = _("报名")
        constraints = [
            models.UniqueConstraint(fields=["section", "organization"], name="registration_once_per_section"),
            models.UniqueConstraint(fields=["section", "bidder_code"], name="registration_code_unique"),
        ]

    def __str__(self):
        return self.bidder_code


class OpeningKey(models.Model):
    """A section's HPKE opening public key; the private key exists only as sealed shares."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="opening_key")
    public_key = models.TextField()  # uncompressed SEC1 point, base64url
    fingerprint = models.CharField(max_length=64, unique=True)
    threshold = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.section_id} {self.fingerprint[:12]}"


class KeyShare(models.Model):
    opening_key = models.ForeignKey(OpeningKey, on_delete=models.PROTECT, related_name="shares")
    custodian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="key_shares")
    index = models.PositiveSmallIntegerField()
    sealed = models.JSONField()  # the share sealed to the custodian's passphrase: never readable here
    commitment = models.CharField(max_length=64)  # published, so a forged share is caught at opening

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opening_key", "index"], name="share_index_unique"),
            models.UniqueConstraint(fields=["opening_key", "custodian"], name="share_custodian_unique"),
        ]

    def __str__(self):
        return f"share {self.index} of {self.opening_key_id}"


class Upload(models.Model):
    """A resumable upload: chunks arrive at offsets; finalize checks and records the bid."""

    class Status(models.TextChoices):
        OPEN = "open", _("上传中")
        DONE = "done", _("已完成")
        ABORTED = "aborted", _("已放弃")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="uploads")
    size = models.BigIntegerField()
    received = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(received__gte=0) & models.Q(received__lte=models.F("size")), name="upload_received_in_range"
            )
        ]

    def __str__(self):
        return str(self.id)


def envelope_path(instance: "Bid", filename: str) -> str:
    return f"envelopes/{instance.registration.section.public_id}/{instance.digest}"


class Bid(models.Model):
    """A sealed bid: the envelope as uploaded (ciphertext only) and its signed receipt."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("有效")
        REPLACED = "replaced", _("已替换")
        WITHDRAWN = "withdrawn", _("已撤回")

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="bids")
    envelope = models.FileField(upload_to=envelope_path, max_length=255)
    digest = models.CharField(max_length=64)
    size = models.BigIntegerField()
    manifest = models.JSONField()
    receipt = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    submitted_at = models.DateTimeField()
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Set at the deadline: the leaf of this bid in the section's sealed-bids Merkle tree.
    sealed_leaf_index = models.IntegerField(null=True, blank=True)
    # Where the envelope was uploaded from: sealed like the bid, read after opening by the
    # collusion checks (COLLUSION-40: the same machine across bidders).
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            # BID-ONE-PER-BIDDER: the database itself refuses a second active bid.
            models.UniqueConstraint(
                fields=["registration"], condition=models.Q(status="active"), name="one_active_bid_per_registration"
            ),
        ]

    def __str__(self):
        return f"bid {self.pk} {self.digest[:12]}"


class SealedBidsRoot(models.Model):
    """At the deadline: a Merkle root over the accepted bids' digests, padded so it tells no count."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="sealed_root")
    root_hash = models.CharField(max_length=64)
    tree_size = models.PositiveIntegerField()  # padded size, not the number of bids
    leaves = models.JSONField()  # hex leaf hashes in tree order (dummies included)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.section_id} {self.root_hash[:12]}"


class CustodianKey(models.Model):
    """A key custodian's HPKE public key, derived from a passphrase only the custodian knows.

    The private key is re-derived in memory (Argon2id, memory-hard) when the custodian
    presents its share at an opening; the platform stores the public key, salt and cost only.
    """

    custodian = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="custodian_key")
    public_key = models.TextField()  # uncompressed SEC1, base64url
    fingerprint = models.CharField(max_length=64)
    salt = models.CharField(max_length=64)
    kdf = models.JSONField()  # Argon2id parameters
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"custodian key of {self.custodian_id}"


class BidOpening(models.Model):
    """What the opening made of one sealed bid: its read-out form, or why it failed (OPEN-DECRYPT-FAIL).

    One row per active bid at the opening; the evaluation reads the forms and parts from here.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待解密")
        OPENED = "opened", _("已解密")
        FAILED = "failed", _("解密失败")

    class OpenedBy(models.TextChoices):
        QUORUM = "quorum", _("密钥保管人")
        BIDDER = "bidder", _("投标人")

    bid = models.OneToOneField(Bid, on_delete=models.PROTECT, related_name="opening")
    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="bid_openings")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    opened_by = models.CharField(max_length=8, choices=OpenedBy.choices, blank=True)
    # The decrypted bid form (price_fen, currency, duration_days, fields): public once read out.
    form = models.JSONField(null=True, blank=True)
    price_fen = models.BigIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=32, blank=True)
    failure_reason = models.TextField(blank=True)
    # OPEN-DECRYPT-FAIL: through the bidder's fault the bid counts as revoked, through the platform's as withdrawn.
    failure_fault = models.CharField(max_length=8, choices=[("bidder", "bidder"), ("platform", "platform")], blank=True)
    readout_order = models.PositiveIntegerField(null=True, blank=True)
    read_out_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    # During the opening only: the parts' data keys, wrapped at rest (bidding.decrypt), erased once settled.
    sealed_keys = models.JSONField(null=True, blank=True)
    keys_from = models.CharField(max_length=8, choices=OpenedBy.choices, blank=True)
    # The quorum's key did not unwrap this bid's data keys: it waits for the bidder's own key until the window ends.
    quorum_failure = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["readout_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["section", "readout_order"], condition=models.Q(readout_order__isnull=False), name="readout_order_unique"
            ),
        ]

    def __str__(self):
        return f"opening of bid {self.bid_id}: {self.status}"


def opened_part_path(instance: "OpenedPart", filename: str) -> str:
    """Where migration 0004 put decrypted copies; the opening writes none now (bidding.parts)."""
    return f"opened/{instance.opening.section.public_id}/{instance.opening.bid.digest}/{instance.name}"


class OpenedPart(models.Model):
    """An opened part (commercial, technical) of a bid: for the evaluation committee only.

    Its content stays sealed in the bid's envelope; `sealed_key` is its data key under OPENED_PARTS_KEY, and
    bidding.parts decrypts it as the committee reads it.
    """

    opening = models.ForeignKey(BidOpening, on_delete=models.PROTECT, related_name="parts")
    name = models.CharField(max_length=32)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sealed_key = models.TextField()
    size = models.BigIntegerField()
    # Of the plaintext; null until first needed (bidding/parts.py opened_part_digest), not on the opening's path.
    sha256 = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["opening", "name"], name="opened_part_once")]

    def __str__(self):
        return f"{self.name} of {self.opening_id}"


class OpeningCeremony(models.Model):
    """The opening (开标) of one section: a plain state machine with a history row per step."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("待开标")
        CHECKIN = "checkin", _("签到")
        DECRYPTING = "decrypting", _("解密")
        READOUT = "readout", _("唱标")
        CLOSED = "closed", _("开标结束")
        FAILED = "failed", _("流标")

    ACTIVE_STATES = (State.CHECKIN, State.DECRYPTING, State.READOUT)  # started and not yet over

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="opening_ceremony")
    state = models.CharField(max_length=12, choices=State.choices, default=State.SCHEDULED)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    decrypt_until = models.DateTimeField(null=True, blank=True)
    quorum_at = models.DateTimeField(null=True, blank=True)
    readout_count = models.PositiveIntegerField(default=0)
    last_step_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=32, blank=True)
    # The signed opening record (开标记录), published once closed.
    record = models.JSONField(null=True, blank=True)
    record_signature = models.CharField(max_length=128, blank=True)
    record_key_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("开标")
        verbose_name_plural = _("开标")

    def __str__(self):
        return f"opening of {self.section_id}: {self.state}"

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class CeremonyTransition(models.Model):
    ceremony = models.ForeignKey(OpeningCeremony, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.ceremony_id}: {self.from_state} -> {self.to_state}"


class PresentedShare(models.Model):
    """A custodian presented its share. Below the quorum the share waits here, wrapped; at the quorum it is erased."""

    ceremony = models.ForeignKey(OpeningCeremony, on_delete=models.PROTECT, related_name="presented_shares")
    key_share = models.ForeignKey(KeyShare, on_delete=models.PROTECT, related_name="+")
    custodian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    wrapped = models.TextField(blank=True)
    presented_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ceremony", "key_share"], name="share_presented_once")]

    def __str__(self):
        return f"share {self.key_share_id} at {self.ceremony_id}"


class CheckIn(models.Model):
    ceremony = models.ForeignKey(OpeningCeremony, on_delete=models.PROTECT, related_name="checkins")
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [models.UniqueConstraint(fields=["ceremony", "registration"], name="checkin_once")]

    def __str__(self):
        return f"check-in {self.registration_id} at {self.ceremony_id}"


class OpeningObjection(models.Model):
    """An objection raised at the opening (异议) and staff's answer on the spot (OPEN-OBJECTION)."""

    ceremony = models.ForeignKey(OpeningCeremony, on_delete=models.PROTECT, related_name="objections")
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="+")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    raised_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]

    def __str__(self):
        return f"objection {self.pk} at {self.ceremony_id}"
