"""The append-only audit log and its signed checkpoints."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyQuerySet(models.QuerySet):
    # The app-level guard; on PostgreSQL a trigger refuses the same at the database.
    def update(self, **kwargs):
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")


class AppendOnlyModel(models.Model):
    """Rows written once: the ORM refuses to change or delete them (and a trigger on PostgreSQL, per model)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")


class AuditEntry(AppendOnlyModel):
    index = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_role = models.CharField(max_length=16, blank=True)
    # The acting organization lets a bidder see its own private entries.
    actor_organization_id = models.BigIntegerField(null=True, blank=True)
    # The leaf commits to who acted through SHA-256 of this salt and the ids (audit.log.party_commitment), so anyone
    # recomputes it from what the API shows without learning the ids: raw ids would link an expert's acts across
    # sections (EVAL-SECRET). Blank: an entry written before (format 1, raw ids in the leaf).
    party_salt = models.CharField(max_length=32, blank=True, default="", db_default="")
    section = models.ForeignKey("trading.Section", null=True, blank=True, on_delete=models.PROTECT)
    section_public_id = models.CharField(max_length=40, blank=True)
    event = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    leaf_hash = models.CharField(max_length=64)
    # Root of the tree that ends with this entry, signed: a rewrite of any earlier row shows here.
    tree_root = models.CharField(max_length=64)
    frontier = models.JSONField()
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["index"]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        triggers = [pgtrigger.Protect(name="audit_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]
        constraints = [models.CheckConstraint(condition=models.Q(index__gte=0), name="audit_index_nonnegative")]

    def __str__(self):
        return f"#{self.index} {self.event}"


class SealedAuditEntry(AppendOnlyModel):
    """A bidder's private act (BIDDER_PRIVATE_EVENTS) before its section is opened. The public log's size, its gaps
    and its proofs' tree sizes would count such entries (SECRET-BIDDERS: how many bidders, when), so they wait here,
    chained per section under the platform key, and join the public log in order when the section is opened
    (audit.log.audit_release)."""

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField()  # 0, 1, 2... within the section
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_role = models.CharField(max_length=16, blank=True)
    actor_organization_id = models.BigIntegerField(null=True, blank=True)
    # As AuditEntry's; the entry released at the opening keeps it, so the chain is recomputed from the public one.
    party_salt = models.CharField(max_length=32, blank=True, default="", db_default="")
    event = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    # SHA-256(previous chain_hash | SHA-256(the entry's canonical bytes)), and the platform's signature of it:
    # a row rewritten or removed from the middle breaks the chain at release.
    chain_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["section", "seq"]
        verbose_name = _("待公开审计记录")
        verbose_name_plural = _("待公开审计记录")
        triggers = [pgtrigger.Protect(name="sealed_audit_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]
        constraints = [models.UniqueConstraint(fields=["section", "seq"], name="sealed_audit_seq_once")]

    def __str__(self):
        return f"sealed {self.section_id}#{self.seq} {self.event}"

    # Not in the public tree yet: what callers of audit_append read of an entry they just wrote.
    index = None


class SealedAnchorKey(AppendOnlyModel):
    """The secret behind a sealed chain's anchors: at each checkpoint the public log holds, per sealed section,
    SHA-256 of (section, seq, head, salt) with salt = HMAC(key, anchor index), which tells nothing (a fresh salt each
    time); the opening publishes the key, so anyone can check that no entry an anchor covered went missing."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=64)

    class Meta:
        triggers = [pgtrigger.Protect(name="sealed_anchor_key_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self):
        return f"anchor key of {self.section_id}"


class Checkpoint(AppendOnlyModel):
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    signature = models.CharField(max_length=100)
    key_id = models.CharField(max_length=64)
    timestamp_token = models.TextField(blank=True)

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("签名检查点")
        verbose_name_plural = _("签名检查点")
        triggers = [pgtrigger.Protect(name="checkpoint_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self):
        return f"checkpoint {self.tree_size} {self.root_hash[:12]}"
