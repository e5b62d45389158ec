"""The working-day calendar: holidays and adjusted working days (调休), as data."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日")
        WORKDAY = "workday", _("调休工作日")

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=64, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("日历")
        verbose_name_plural = _("日历")

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}"
