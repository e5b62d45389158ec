"""Registrations (报名): a bidder's entry into a section under a pseudonymous code."""

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
