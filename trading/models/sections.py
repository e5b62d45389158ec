"""Projects, sections (标段), announcements and tender documents."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TransactionType(models.TextChoices):
    CONSTRUCTION = "construction", _("工程建设")
    PROCUREMENT = "procurement", _("政府采购")
    LAND = "land", _("土地使用权")
    PROPERTY = "property", _("产权交易")


SALE_TYPES = {TransactionType.LAND, TransactionType.PROPERTY}


class Procedure(models.TextChoices):
    OPEN_TENDER = "open_tender", _("公开招标")
    AUCTION = "auction", _("网上竞价")


class SectionState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布（报名投标中）")
    BIDDING_CLOSED = "bidding_closed", _("投标截止")
    OPENING = "opening", _("开标中")
    OPENED = "opened", _("已开标")
    EVALUATING = "evaluating", _("评标中")
    PUBLICIZING = "publicizing", _("候选人公示")
    AWARDED = "awarded", _("已中标")
    CONTRACTED = "contracted", _("已签合同")
    CLOSED = "closed", _("已结束")
    FAILED = "failed", _("流标")
    SUSPENDED = "suspended", _("暂停")
    TERMINATED = "terminated", _("终止")


class Project(models.Model):
    code = models.CharField(_("项目编号"), max_length=32, unique=True)
    name = models.CharField(_("项目名称"), max_length=200)
    tenderer = models.ForeignKey(
        "trading.Organization", on_delete=models.PROTECT, related_name="projects", verbose_name=_("招标人")
    )
    agency = models.ForeignKey(
        "trading.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agency_projects",
        verbose_name=_("招标代理"),
    )
    transaction_type = models.CharField(_("交易类型"), max_length=16, choices=TransactionType.choices)
    region = models.CharField(_("地区"), max_length=64)
    state_funded = models.BooleanField(_("国有资金投资"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("项目")
        verbose_name_plural = _("项目")

    def __str__(self):
        return f"{self.code} {self.name}"


class Section(models.Model):
    public_id = models.CharField(_("标段编号"), max_length=40, unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="sections", verbose_name=_("项目"))
    name = models.CharField(_("标段名称"), max_length=200)
    procedure = models.CharField(_("交易方式"), max_length=16, choices=Procedure.choices, default=Procedure.OPEN_TENDER)
    # Money is integer fen (分) everywhere: estimate/budget for purchases, reserve for sales.
    estimated_price_fen = models.BigIntegerField(_("估算价/预算/底价（分）"))
    starting_price_fen = models.BigIntegerField(_("起始价（分）"), null=True, blank=True)
    increment_fen = models.BigIntegerField(_("加价幅度（分）"), null=True, blank=True)
    deposit_fen = models.BigIntegerField(_("投标保证金（分）"), default=0)
    state = models.CharField(_("状态"), max_length=16, choices=SectionState.choices, default=SectionState.DRAFT)
    # The state a suspension interrupted, so resuming returns to it.
    suspended_from = models.CharField(max_length=16, choices=SectionState.choices, blank=True)
    documents_issued_at = models.DateTimeField(_("招标文件发出时间"), null=True, blank=True)
    registration_start = models.DateTimeField(_("报名开始"), null=True, blank=True)
    registration_end = models.DateTimeField(_("报名截止"), null=True, blank=True)
    bid_deadline = models.DateTimeField(_("投标截止时间"), null=True, blank=True)
    opening_at = models.DateTimeField(_("开标时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    # Set once, when the bids are opened: from then on bidder identities are public (firewall).
    opened_at = models.DateTimeField(_("开标完成时间"), null=True, blank=True)
    camera_url = models.URLField(_("开标直播地址（HLS）"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("标段")
        verbose_name_plural = _("标段")
        constraints = [
            models.CheckConstraint(condition=Q(estimated_price_fen__gte=0), name="section_estimate_nonnegative"),
            models.CheckConstraint(condition=Q(deposit_fen__gte=0), name="section_deposit_nonnegative"),
        ]

    def __str__(self):
        return f"{self.public_id} {self.name}"

    @property
    def transaction_type(self) -> str:
        return self.project.transaction_type

    @property
    def tenderer_id(self) -> int:
        return self.project.tenderer_id


class SectionTransition(models.Model):
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=16, choices=SectionState.choices)
    to_state = models.CharField(max_length=16, choices=SectionState.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.section_id}: {self.from_state} -> {self.to_state}"


class AnnouncementKind(models.TextChoices):
    TENDER = "tender", _("招标公告")
    CLARIFICATION = "clarification", _("澄清/变更公告")
    CANDIDATES = "candidates", _("中标候选人公示")
    RESULT = "result", _("中标结果公告")
    FAILURE = "failure", _("流标公告")
    SALE = "sale", _("出让公告")


class Announcement(models.Model):
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="announcements", verbose_name=_("标段"))
    kind = models.CharField(_("公告类型"), max_length=16, choices=AnnouncementKind.choices)
    title = models.CharField(_("标题"), max_length=300)
    body = models.TextField(_("正文"))
    published_at = models.DateTimeField(_("发布时间"), db_index=True)

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("公告")
        verbose_name_plural = _("公告")
        indexes = [models.Index(fields=["kind", "-published_at"])]

    def __str__(self):
        return self.title


def document_path(instance: "Document", filename: str) -> str:
    return f"documents/{instance.section.public_id}/{instance.sha256}"


class Document(models.Model):
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="documents", verbose_name=_("标段"))
    name = models.CharField(_("文件名称"), max_length=200)
    version = models.PositiveIntegerField(_("版本"), default=1)
    file = models.FileField(upload_to=document_path)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = _("招标文件")
        verbose_name_plural = _("招标文件")
        constraints = [models.UniqueConstraint(fields=["section", "name", "version"], name="document_version_unique")]

    def __str__(self):
        return f"{self.name} v{self.version}"
