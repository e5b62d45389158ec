"""Organizations and the people who act for them."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    TENDERER = "tenderer", _("招标人")
    AGENCY = "agency", _("招标代理机构")
    BIDDER = "bidder", _("投标人")
    EXCHANGE = "exchange", _("交易中心")
    SUPERVISOR = "supervisor", _("监督机构")
    EXPERT_EMPLOYER = "employer", _("专家所在单位")


class Organization(models.Model):
    name = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("类型"), max_length=16, choices=OrganizationKind.choices)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    legal_representative = models.CharField(_("法定代表人"), max_length=100, blank=True)
    # A control relation (控股/管理关系), checked by BID-NO-RELATED.
    controlled_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="controls", verbose_name=_("控制方")
    )
    region = models.CharField(_("地区"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    PUBLIC = "public", _("公众")
    TENDERER = "tenderer", _("招标人")
    AGENCY = "agency", _("招标代理")
    BIDDER = "bidder", _("投标人")
    STAFF = "staff", _("交易中心工作人员")
    SUPERVISOR = "supervisor", _("监督人员")
    EXPERT = "expert", _("评标专家")


# Roles whose accounts must present a second factor (TOTP) after the password.
SECOND_FACTOR_ROLES = {Role.STAFF, Role.SUPERVISOR}


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.PUBLIC)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="people", verbose_name=_("单位")
    )
    # Custodians are named staff of the exchange, supervisor and tenderer: a capability, not a role.
    is_key_custodian = models.BooleanField(_("密钥保管人"), default=False)
    failed_signins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    @property
    def needs_second_factor(self) -> bool:
        return self.role in SECOND_FACTOR_ROLES or self.is_key_custodian or self.role == Role.EXPERT
