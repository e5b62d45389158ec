"""A sale (出让) on a section: listing, then limited-time bidding, then a result.

The sale's row is the one that offers lock; each accepted offer is a numbered,
append-only row. Offers only rise, so the database itself refuses two accepted
offers at the same amount: there cannot be two winners.
"""

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SaleState(models.TextChoices):
    SCHEDULED = "scheduled", _("待挂牌")
    LISTING = "listing", _("挂牌中")
    COUNTDOWN = "countdown", _("限时竞价中")
    SOLD = "sold", _("已成交")
    FAILED = "failed", _("未成交")


class Sale(models.Model):
    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="sale", verbose_name=_("标段"))
    # The listing runs from section.opening_at (announced at least 7 days before: AUCTION-7D) to listing_end.
    listing_end = models.DateTimeField(_("挂牌截止时间"))
    # Fixed when the sale is set up (from AUCTION_COUNTDOWN_SECONDS), so a setting changed later moves no running sale.
    countdown_seconds = models.PositiveIntegerField(_("限时竞价时长（秒）"))
    state = models.CharField(_("状态"), max_length=12, choices=SaleState.choices, default=SaleState.SCHEDULED)

    # The secret reserve (保留价): sealed to the platform's reserve key, committed to in public.
    reserve_commitment = models.CharField(_("保留价承诺（SHA-256）"), max_length=64, blank=True)
    reserve_sealed = models.TextField(blank=True)
    # Revealed with the result only, so anyone can check them against the commitment.
    reserve_fen = models.BigIntegerField(_("保留价（分）"), null=True, blank=True)
    reserve_salt = models.CharField(max_length=64, blank=True)

    current_price_fen = models.BigIntegerField(_("当前价（分）"), null=True, blank=True)
    leader = models.ForeignKey(
        "bidding.Registration",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("当前最高报价人"),
    )
    last_seq = models.PositiveIntegerField(default=0)
    countdown_round = models.PositiveIntegerField(default=0)  # restarts of the countdown (1 = the first)
    countdown_ends_at = models.DateTimeField(null=True, blank=True)
    warned_round = models.PositiveIntegerField(default=0)  # the round whose last-minute warning went out
    # While the section is suspended: what was left of the running clock (listing or countdown).
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_remaining_ms = models.BigIntegerField(null=True, blank=True)

    ended_at = models.DateTimeField(null=True, blank=True)
    winner = models.ForeignKey(
        "bidding.Registration", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("竞得人")
    )
    final_price_fen = models.BigIntegerField(_("成交价（分）"), null=True, blank=True)
    # 溢价率: (price - base) / base, base the reserve when one was set, else the starting price.
    premium_rate = models.DecimalField(_("溢价率"), max_digits=12, decimal_places=6, null=True, blank=True)
    failure_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("网上竞价")
        verbose_name_plural = _("网上竞价")
        constraints = [
            models.CheckConstraint(condition=Q(countdown_seconds__gt=0), name="sale_countdown_positive"),
            models.CheckConstraint(
                condition=Q(reserve_fen__isnull=True) | Q(reserve_fen__gte=0), name="sale_reserve_nonnegative"
            ),
            models.CheckConstraint(
                condition=~Q(state="sold") | Q(winner__isnull=False, final_price_fen__isnull=False), name="sale_sold_has_winner"
            ),
            models.CheckConstraint(condition=~Q(state="failed") | Q(winner__isnull=True), name="sale_failed_no_winner"),
        ]

    def __str__(self):
        return f"sale of {self.section_id} ({self.state})"

    @property
    def has_reserve(self) -> bool:
        return bool(self.reserve_commitment)

    @property
    def ended(self) -> bool:
        return self.state in (SaleState.SOLD, SaleState.FAILED)


class Offer(models.Model):
    class Phase(models.TextChoices):
        LISTING = "listing", _("挂牌报价")
        COUNTDOWN = "countdown", _("限时竞价")

    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="offers")
    registration = models.ForeignKey("bidding.Registration", on_delete=models.PROTECT, related_name="offers")
    seq = models.PositiveIntegerField()
    amount_fen = models.BigIntegerField(_("报价（分）"))
    at = models.DateTimeField(_("报价时间"))  # the server's clock, read under the sale's row lock
    phase = models.CharField(max_length=10, choices=Phase.choices)
    countdown_round = models.PositiveIntegerField(default=0)
    via = models.CharField(max_length=8, default="api")  # api | stream

    class Meta:
        ordering = ["sale", "seq"]
        verbose_name = _("报价")
        verbose_name_plural = _("报价")
        triggers = [pgtrigger.Protect(name="auction_offer_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]
        constraints = [
            models.UniqueConstraint(fields=["sale", "seq"], name="offer_seq_unique"),
            # Irrevocable and strictly rising: never two accepted offers at one amount.
            models.UniqueConstraint(fields=["sale", "amount_fen"], name="offer_amount_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0) & Q(seq__gte=1), name="offer_positive"),
        ]

    def __str__(self):
        return f"{self.sale_id}#{self.seq} {self.amount_fen}"


__all__ = ["Offer", "Sale", "SaleState"]
