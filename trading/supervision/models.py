"""Supervision: alerts (the one home of every alert), notices (督办), objections (异议), complaints (投诉), award reports."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Alert(models.Model):
    """A rule breach found by a monitoring node. Never carries payer data; bidder codes only where the rule needs them."""

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        HANDLED = "handled", _("已处理")

    rule = models.CharField(_("规则"), max_length=32)
    severity = models.CharField(_("级别"), max_length=8, default="medium")
    step = models.CharField(_("监察环节"), max_length=16, blank=True)
    message = models.CharField(_("内容"), max_length=300)
    section = models.ForeignKey("trading.Section", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    deposit = models.ForeignKey("escrow.Deposit", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    bidder_codes = models.JSONField(default=list)
    names_bidders = models.BooleanField(default=False)  # carries codes: sealed until opening (policy)
    # Found before opening and shown from the opening on: its being there would count the bidders (SECRET-BIDDERS).
    held = models.BooleanField(default=False)
    blocked = models.BooleanField(_("已阻止"), default=False)  # the act it was raised on was refused
    data = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=120, unique=True, null=True, blank=True)
    audit_index = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    handling_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        indexes = [models.Index(fields=["section", "rule"])]

    def __str__(self):
        return f"{self.rule} {self.message}"


class Notice(models.Model):
    """A supervision notice (督办) to the centre's staff; the response deadline is watched (NOTICE-RESPONSE)."""

    section = models.ForeignKey("trading.Section", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="notices")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(_("事项"), max_length=200)
    body = models.TextField(_("督办要求"))
    respond_by = models.DateTimeField(_("答复期限"))
    response = models.TextField(_("答复"), blank=True)
    responded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    responded_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("督办通知")
        verbose_name_plural = _("督办通知")

    def __str__(self):
        return self.subject


class Subject(models.TextChoices):
    """What an objection or complaint is about; the first three need an objection first (Regs 60)."""

    DOCUMENTS = "documents", _("招标文件")
    OPENING = "opening", _("开标")
    CANDIDATES = "candidates", _("评标结果（中标候选人）")
    OTHER = "other", _("其他")


OBJECTION_FIRST = {Subject.DOCUMENTS, Subject.OPENING, Subject.CANDIDATES}


class Objection(models.Model):
    """An objection (异议) to the tenderer; one to the documents pauses the section until answered (Regs 22)."""

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="objections")
    organization = models.ForeignKey("trading.Organization", on_delete=models.PROTECT, related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(_("异议事项"), max_length=16, choices=Subject.choices)
    body = models.TextField(_("异议内容"))
    filed_at = models.DateTimeField()
    answer_due_at = models.DateTimeField()
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    paused_section = models.BooleanField(default=False)

    class Meta:
        ordering = ["-filed_at", "-pk"]
        verbose_name = _("异议")
        verbose_name_plural = _("异议")

    def __str__(self):
        return f"{self.section_id} {self.subject}"


class Complaint(models.Model):
    """A complaint (投诉) to the supervisors: accepted or not within 3 working days, ruled on within 30 (Regs 61)."""

    class Status(models.TextChoices):
        FILED = "filed", _("已提交")
        ACCEPTED = "accepted", _("已受理")
        REJECTED = "rejected", _("不予受理")
        DECIDED = "decided", _("已处理决定")
        WITHDRAWN = "withdrawn", _("已撤回")

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="complaints")
    organization = models.ForeignKey("trading.Organization", on_delete=models.PROTECT, related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    objection = models.ForeignKey(Objection, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints")
    subject = models.CharField(_("投诉事项"), max_length=16, choices=Subject.choices)
    body = models.TextField(_("投诉内容"))
    known_on = models.DateField(_("知道或应当知道之日"))
    filed_at = models.DateTimeField()
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.FILED)
    accept_due_on = models.DateField(_("受理期限"))
    decide_due_on = models.DateField(_("处理期限"), null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    suspended_section = models.BooleanField(default=False)
    rejection_reason = models.TextField(blank=True)
    decision = models.TextField(_("处理决定"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-filed_at", "-pk"]
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")

    def __str__(self):
        return f"{self.section_id} {self.subject} {self.status}"


def evidence_path(instance: "Evidence", filename: str) -> str:
    return f"complaints/{instance.complaint_id}/{instance.sha256}"


class Evidence(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="evidence")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=evidence_path, max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.name


class AwardReportQuerySet(models.QuerySet):
    def current(self):
        """The report of the award that stands: one whose winner then refused (DEP-FORFEIT-REFUSE) is superseded."""
        return self.filter(superseded_at__isnull=True)


class AwardReport(models.Model):
    """The tenderer's written report to the supervisors (书面报告, REPORT-15D); statistics read the award price from it."""

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="award_reports")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    award_price_fen = models.BigIntegerField(_("中标（成交）价（分）"))
    winner_name = models.CharField(_("中标人"), max_length=200)
    body = models.TextField(_("报告内容"), blank=True)
    submitted_at = models.DateTimeField()
    # The winner it names gave up or refused to sign: kept for the record; the next award is reported anew.
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects = AwardReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("招标投标情况书面报告")
        verbose_name_plural = _("招标投标情况书面报告")
        constraints = [
            models.CheckConstraint(condition=Q(award_price_fen__gte=0), name="award_report_price_nonnegative"),
            models.UniqueConstraint(
                fields=["section"], condition=Q(superseded_at__isnull=True), name="award_report_one_current_per_section"
            ),
        ]

    def __str__(self):
        return f"{self.section_id} {self.award_price_fen}"
