"""Streams: numbered events kept in the database, fanned out live through the channel layer.

The channel layer delivers at most once and drops what it cannot hold, so the
rows here are the truth: a viewer's history, a reconnect and every gap are
filled from them.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StreamKind(models.TextChoices):
    OPENING = "opening", _("开标直播")
    AUCTION = "auction", _("网上竞价")
    SUPERVISION = "supervision", _("电子监察")
    DEMO = "demo", _("演示")


class Stream(models.Model):
    key = models.CharField(_("标识"), max_length=80, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=StreamKind.choices)
    section = models.ForeignKey(
        "trading.Section", null=True, blank=True, on_delete=models.PROTECT, related_name="streams", verbose_name=_("标段")
    )
    # The counter behind seq: raised under this row's lock, so numbers have no gap and no twin.
    last_seq = models.PositiveBigIntegerField(default=0)
    # Bidder codes a read-out (唱标) has made public; later events show those names to everyone.
    revealed_codes = models.JSONField(default=list)
    # Head of the hash chain over the events (each digest covers the previous one); audited at close.
    head_digest = models.CharField(max_length=64, default="0" * 64)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("直播流")
        verbose_name_plural = _("直播流")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "section"], condition=Q(section__isnull=False), name="stream_one_per_kind_and_section"
            ),
        ]

    def __str__(self):
        return self.key

    @property
    def group_name(self) -> str:
        return f"livestream.{self.pk}"


class StreamEventQuerySet(models.QuerySet):
    # The app-level guard; on PostgreSQL a trigger refuses the same at the database.
    def update(self, **kwargs):
        raise PermissionError("stream events are append-only")

    def delete(self):
        raise PermissionError("stream events are append-only")


class StreamEvent(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    # What every viewer of the stream sees; bidders appear in it by code only.
    payload = models.JSONField(default=dict)
    # Per bidder code, what identifies it (name, ...): the policy shows an entry only to whom may know it.
    sealed = models.JSONField(default=dict)
    # The codes whose sealed entry was public when the event was made (read out, or the bids opened).
    public_codes = models.JSONField(default=list)
    digest = models.CharField(max_length=64)

    objects = StreamEventQuerySet.as_manager()

    class Meta:
        ordering = ["stream", "seq"]
        verbose_name = _("直播事件")
        verbose_name_plural = _("直播事件")
        triggers = [pgtrigger.Protect(name="stream_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="stream_event_seq_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="stream_event_seq_positive"),
        ]

    def __str__(self):
        return f"{self.stream_id}#{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("stream events are append-only")
        super().save(*args, **kwargs)

    def as_message(self) -> dict:
        """The form kept in the per-process cache and sent through the channel layer (msgpack-safe)."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat(timespec="milliseconds"),
            "payload": self.payload,
            "sealed": self.sealed,
            "public": self.public_codes,
        }


class StreamPresence(models.Model):
    """How many viewers one server process holds on a stream, refreshed with each heartbeat."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="presence")
    process = models.CharField(max_length=64)
    viewers = models.PositiveIntegerField(default=0)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "process"], name="stream_presence_per_process")]

    def __str__(self):
        return f"{self.stream_id}@{self.process}: {self.viewers}"
