"""Evaluation and award: the expert pool, the verifiable draw, independent scores, collusion flags,
the report, the candidates' publicity, the award and the contract."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Specialty(models.Model):
    """The specialties catalogue (专业分类), e.g. A01 房屋建筑工程."""

    code = models.CharField(_("专业代码"), max_length=16, unique=True)
    name = models.CharField(_("专业名称"), max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name = _("专业")
        verbose_name_plural = _("专业")

    def __str__(self):
        return f"{self.code} {self.name}"


class Expert(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("在库")
        SUSPENDED = "suspended", _("暂停")
        RETIRED = "retired", _("出库")

    # The pool number: what the published candidate list shows instead of a name (EVAL-SECRET).
    code = models.CharField(_("专家编号"), max_length=16, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="expert_profile"
    )
    name = models.CharField(_("姓名"), max_length=100)
    employer = models.ForeignKey(
        "trading.Organization", on_delete=models.PROTECT, related_name="employed_experts", verbose_name=_("工作单位")
    )
    specialties = models.ManyToManyField(Specialty, related_name="experts", verbose_name=_("专业"))
    region = models.CharField(_("地区"), max_length=64)
    phone = models.CharField(_("联系电话"), max_length=32)
    email = models.EmailField(_("电子邮箱"), blank=True)
    available = models.BooleanField(_("可参加评标"), default=True)
    unavailable_until = models.DateField(_("暂不可参加至"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # The expert's own ECDSA P-256 public key (base64url SEC1): its private key stays in the expert's browser,
    # so a score submission signed with it could not have been made by the platform (services/expert_keys.py).
    signing_public_key = models.TextField(_("签名公钥"), blank=True)
    signing_key_registered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("评标专家")
        verbose_name_plural = _("评标专家")

    def __str__(self):
        return self.code


class ServiceRecord(models.Model):
    """An expert sat on a committee for a tenderer: recent service excludes it from that tenderer's draws."""

    expert = models.ForeignKey(Expert, on_delete=models.PROTECT, related_name="services")
    tenderer = models.ForeignKey("trading.Organization", on_delete=models.PROTECT, related_name="+")
    section = models.ForeignKey("trading.Section", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    served_at = models.DateTimeField()

    class Meta:
        ordering = ["-served_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["expert", "section"], condition=Q(section__isnull=False), name="service_once_per_section"
            )
        ]

    def __str__(self):
        return f"{self.expert_id} for {self.tenderer_id}"


class ExpertDraw(models.Model):
    """One section's draw (专家抽取): commitment first, then the committee, then the seed revealed."""

    class Status(models.TextChoices):
        COMMITTED = "committed", _("已公布承诺")
        DRAWN = "drawn", _("已抽取")
        IN_SESSION = "in_session", _("评标中")
        CLOSED = "closed", _("评标结束")

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="expert_draw")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMMITTED)
    size = models.PositiveSmallIntegerField(_("委员会人数"))
    remote = models.BooleanField(_("异地评标"), default=False)
    # Published before the draw: the rules (quotas, size), the candidate list and the seed's commitment.
    rules = models.JSONField()
    candidates = models.JSONField()  # [{"code", "specialties"}], sorted by code
    candidates_digest = models.CharField(max_length=64)
    commitment = models.CharField(max_length=64)  # SHA-256 of the seed
    # The seed: secret until revealed (policy.draw_seed_visible), then published for anyone to re-run.
    # Sealed at rest (bidding.evaluation.seed): read and set it through `seed`.
    seed_sealed = models.TextField()
    # Replacement draws in order: [{"seat", "code", "reason"}] (a decline, a recusal, a replacement in session),
    # and {"supplement": k} where the k-th supplementary round came in.
    replacements = models.JSONField(default=list)
    # Supplementary rounds (补充抽取) for seats the published list could no longer fill, in order:
    # [{"round", "seats", "candidates", "candidates_digest", "commitment", "seed_sealed", "at"}],
    # each seed sealed as the first one is (bidding.evaluation.seed) and revealed with it, or at once in session.
    supplements = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    session_started_at = models.DateTimeField(null=True, blank=True)
    revealed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("专家抽取")
        verbose_name_plural = _("专家抽取")
        constraints = [
            # EVAL-SIZE: 5 or more, odd.
            models.CheckConstraint(condition=Q(size__gte=5), name="draw_size_at_least_5"),
        ]

    def __str__(self):
        return f"draw of {self.section_id}"

    @property
    def seed(self) -> str:
        from bidding.evaluation.seed import seed_unseal

        return seed_unseal(self.seed_sealed, section_id=self.section_id, commitment=self.commitment)

    @seed.setter
    def seed(self, value: str) -> None:
        from bidding.evaluation.seed import seed_seal

        self.seed_sealed = seed_seal(value, section_id=self.section_id, commitment=self.commitment)

    def supplements_unsealed(self) -> list[dict]:
        """The supplementary rounds with their seeds unsealed ("seed"), in round order: secret until revealed, as `seed`."""
        from bidding.evaluation.seed import seed_unseal

        return [
            {
                **{k: v for k, v in s.items() if k != "seed_sealed"},
                "seed": seed_unseal(s["seed_sealed"], section_id=self.section_id, commitment=s["commitment"]),
            }
            for s in self.supplements
        ]


class CommitteeMemberQuerySet(models.QuerySet):
    def sitting(self):
        """Invited or accepted: the one member a seat has at a time (one_member_per_seat)."""
        return self.filter(status__in=["invited", "accepted"])

    def drawn_codes(self) -> dict[int, str]:
        """Seat -> pool code of the sitting drawn members: what re-running the draw from its record must give."""
        return dict(self.sitting().filter(source="drawn").values_list("seat", "expert__code"))


class CommitteeMember(models.Model):
    class Source(models.TextChoices):
        DRAWN = "drawn", _("随机抽取")
        REPRESENTATIVE = "representative", _("招标人代表")

    class Status(models.TextChoices):
        INVITED = "invited", _("待确认")
        ACCEPTED = "accepted", _("已确认参加")
        DECLINED = "declined", _("已拒绝")
        RECUSED = "recused", _("回避")
        # Taken off the committee during the evaluation (Regs 48): its conclusions are void.
        REPLACED = "replaced", _("已更换")

    draw = models.ForeignKey(ExpertDraw, on_delete=models.PROTECT, related_name="members")
    expert = models.ForeignKey(Expert, on_delete=models.PROTECT, related_name="seats")
    seat = models.PositiveSmallIntegerField()
    specialty = models.CharField(max_length=16, blank=True)  # the quota the seat belongs to
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DRAWN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INVITED)
    reason = models.TextField(blank=True)  # why declined, recused or replaced
    invited_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)  # the invitation sent to the expert (once)
    responded_at = models.DateTimeField(null=True, blank=True)

    objects = CommitteeMemberQuerySet.as_manager()

    class Meta:
        ordering = ["seat", "invited_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "expert"], name="member_once_per_draw"),
            models.UniqueConstraint(
                fields=["draw", "seat"], condition=Q(status__in=["invited", "accepted"]), name="one_member_per_seat"
            ),
        ]

    def __str__(self):
        return f"seat {self.seat} of {self.draw_id}"

    @property
    def sitting(self) -> bool:
        return self.status in (self.Status.INVITED, self.Status.ACCEPTED)


class EvaluationScheme(models.Model):
    """How the section is scored: lowest evaluated price, or comprehensive scoring with a price formula."""

    class Method(models.TextChoices):
        LOWEST_PRICE = "lowest_price", _("经评审的最低投标价法")
        COMPREHENSIVE = "comprehensive", _("综合评估法")

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="evaluation_scheme")
    method = models.CharField(_("评标办法"), max_length=16, choices=Method.choices, default=Method.COMPREHENSIVE)
    # Price score = price_points x (lowest valid price / bid price): the lowest valid price is the benchmark.
    price_points = models.PositiveSmallIntegerField(_("价格分"), default=40)
    criteria = models.JSONField(default=list)  # [{"key", "name", "max", "kind": "technical"|"commercial"}]

    def __str__(self):
        return f"scheme of {self.section_id}"


class ScoreSubmission(models.Model):
    """One expert's scores of every valid bid, submitted once: signed by the expert over its statement and by the
    platform over the whole canonical text (the statement, the expert's signature and the time)."""

    member = models.OneToOneField(CommitteeMember, on_delete=models.PROTECT, related_name="submission")
    scores = models.JSONField()  # {opening_id: {criterion key: points}}
    rejections = models.JSONField(default=dict)  # {opening_id: {"code", "reason"}} (EVAL-REJECT)
    dissent = models.TextField(blank=True)  # 保留意见
    canonical_sha256 = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    key_id = models.CharField(max_length=64)
    # The expert's own signature over its statement (services/expert_keys.py), and the public key it verifies
    # with, kept here: the expert may register a new key later.
    expert_signature = models.CharField(max_length=128, blank=True)
    expert_key = models.CharField(max_length=100, blank=True)
    submitted_at = models.DateTimeField()

    def __str__(self):
        return f"scores of {self.member_id}"


class CollusionFlag(models.Model):
    """COLLUSION-40: a sign that bidders acted together, with its evidence, for the committee and the supervisors."""

    class Kind(models.TextChoices):
        SAME_FILE = "same_file", _("文件雷同")
        SAME_METADATA = "same_metadata", _("文件属性相同（作者、创建软件、机器）")
        SAME_IP = "same_ip", _("同一上传IP")
        SAME_DEVICE = "same_device", _("同一上传设备")
        SAME_PAYER = "same_payer", _("保证金同一账户转出")
        PRICE_PATTERN = "price_pattern", _("报价呈规律性")
        PRICE_CLOSE = "price_close", _("报价异常接近")
        SAME_MANAGER = "same_manager", _("项目经理相同")

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="collusion_flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=200)  # what the bidders share (a digest, an address, a name): one flag each
    bidder_codes = models.JSONField()
    registration_ids = models.JSONField()
    evidence = models.JSONField()
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "key"]
        constraints = [models.UniqueConstraint(fields=["section", "kind", "key"], name="collusion_flag_once")]

    def __str__(self):
        return f"{self.kind} {self.bidder_codes}"


def report_path(instance: "EvaluationReport", filename: str) -> str:
    return f"evaluation/{instance.section.public_id}/report-{instance.sha256[:16]}.pdf"


class EvaluationReport(models.Model):
    """The evaluation report (评标报告): every score, signature and the ranking, as a signed document and a PDF."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="evaluation_report")
    document = models.JSONField()
    sha256 = models.CharField(max_length=64)  # of the canonical document
    signature = models.CharField(max_length=128)
    pdf = models.FileField(upload_to=report_path, max_length=255, blank=True)
    created_at = models.DateTimeField()

    def __str__(self):
        return f"report of {self.section_id}"


class Candidate(models.Model):
    """A ranked candidate (中标候选人), at most three (CAND-MAX-3)."""

    report = models.ForeignKey(EvaluationReport, on_delete=models.PROTECT, related_name="candidates")
    opening = models.ForeignKey("bidding.BidOpening", on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    price_fen = models.BigIntegerField()
    disqualified_at = models.DateTimeField(null=True, blank=True)
    disqualified_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["report", "rank"], name="candidate_rank_unique"),
            models.CheckConstraint(condition=Q(rank__gte=1, rank__lte=3), name="candidate_max_3"),
        ]

    def __str__(self):
        return f"candidate {self.rank} of {self.report_id}"


class Publicity(models.Model):
    """The candidates' publicity (公示): at least 3 days (CAND-PUBLICITY); objections pause the award."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="candidate_publicity")
    announcement = models.ForeignKey("trading.Announcement", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    def __str__(self):
        return f"publicity of {self.section_id}"


class Objection(models.Model):
    """An objection to the candidates (异议), answered by the tenderer's side before the award."""

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="candidate_objections")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("异议内容"))
    raised_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]

    def __str__(self):
        return f"objection {self.pk} on {self.section_id}"


class AwardQuerySet(models.QuerySet):
    def standing(self):
        """Not refused by the winner (DEP-FORFEIT-REFUSE): at most one per section."""
        return self.filter(refused_at__isnull=True)


class Award(models.Model):
    """The award (定标) and its notice (中标通知书), signed by the platform.

    A winner that gives up or refuses to sign (DEP-FORFEIT-REFUSE) leaves its award refused, kept
    for the record; the next candidate may then be awarded: one standing award per section.
    """

    section = models.ForeignKey("trading.Section", on_delete=models.PROTECT, related_name="awards")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="+")
    notice = models.JSONField()
    signature = models.CharField(max_length=128)
    announcement = models.ForeignKey("trading.Announcement", on_delete=models.PROTECT, related_name="+")
    awarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    awarded_at = models.DateTimeField()
    refused_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)

    objects = AwardQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["section"], condition=Q(refused_at__isnull=True), name="award_one_standing_per_section"
            ),
            models.UniqueConstraint(fields=["candidate"], name="award_once_per_candidate"),
        ]

    def __str__(self):
        return f"award of {self.section_id}"


class ContractRecord(models.Model):
    """The contract as signed (CONTRACT-30D: within 30 days of the award notice)."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="contract")
    award = models.OneToOneField(Award, on_delete=models.PROTECT, related_name="contract")
    signed_on = models.DateField(_("签订日期"))
    amount_fen = models.BigIntegerField(_("合同金额（分）"))
    # PERF-BOND-10PCT: the winner's performance bond (履约保证金), at most a tenth of the contract price; 0 if none asked.
    performance_bond_fen = models.BigIntegerField(_("履约保证金（分）"), default=0)
    within_30_days = models.BooleanField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="contract_amount_positive"),
            models.CheckConstraint(
                condition=Q(performance_bond_fen__gte=0) & Q(amount_fen__gte=F("performance_bond_fen") * 10),
                name="contract_performance_bond_at_most_10pct",
            ),
        ]

    def __str__(self):
        return f"contract of {self.section_id}"
