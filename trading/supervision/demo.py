"""Demo data for supervision and statistics: three concluded sections with their reports, refunds, a complaint, a notice.

Hand-computed figures of the whole demo (tests/supervision/test_statistics.py checks them):
construction 2,000,000.00 budget, 1,840,000.00 award (8.00% saved); procurement 800,000.00 / 720,000.00
(10.00%); a land sale 50,000,000.00 reserve, 56,000,000.00 price (12.00% premium).
"""

import uuid
from contextlib import suppress
from datetime import timedelta
from itertools import pairwise

from django.utils import timezone

from bidding.models import Registration
from bidding.services import new_bidder_code
from escrow.gateways import simulated
from escrow.models import SimTransaction
from escrow.services.deposits import deposit_open
from escrow.services.payments import notification_receive
from escrow.services.refunds import deposit_refund
from trading.errors import RuleViolation
from trading.models import (
    Organization,
    OrganizationKind,
    Project,
    Section,
    SectionState,
    SectionTransition,
    TransactionType,
    User,
)
from trading.services.sections import section_publish
from trading.supervision.models import AwardReport
from trading.supervision.services.complaints import complaint_accept, complaint_decide, complaint_file
from trading.supervision.services.notices import notice_issue

S = SectionState
PATH = [S.DRAFT, S.PUBLISHED, S.BIDDING_CLOSED, S.OPENING, S.OPENED, S.EVALUATING, S.PUBLICIZING, S.AWARDED]


def supervision_demo(*, staff) -> None:
    now = timezone.now()
    day = timedelta(days=1)
    supervisor = User.objects.get(username="supervisor")
    bidders = list(Organization.objects.filter(kind=OrganizationKind.BIDDER).order_by("credit_code"))
    housing = Organization.objects.get(credit_code="12330100MB0000003X")
    education = Organization.objects.get(credit_code="11330100MB0000004X")
    land = Organization.objects.get(credit_code="11330100MB0000005X")

    lanes = _concluded(
        Project.objects.create(
            code="HZJS-2026-140",
            name="上城区背街小巷改造工程",
            tenderer=housing,
            transaction_type=TransactionType.CONSTRUCTION,
            region="上城区",
        ),
        "HZJS-2026-140-01",
        "改造施工",
        200_000_000,
        now - 70 * day,
        bidders[:4],
        award_days_ago=20,
        contract_days_ago=3,
        price=184_000_000,
        winner=bidders[1],
        staff=staff,
    )
    _concluded(
        Project.objects.create(
            code="HZCG-2026-088",
            name="市属学校食堂设备采购",
            tenderer=education,
            transaction_type=TransactionType.PROCUREMENT,
            region="西湖区",
        ),
        "HZCG-2026-088-01",
        "厨房设备",
        80_000_000,
        now - 60 * day,
        bidders[4:9],
        award_days_ago=5,
        contract_days_ago=None,
        price=72_000_000,
        winner=bidders[6],
        staff=staff,
    )
    _concluded(
        Project.objects.create(
            code="HZTD-2026-015",
            name="萧政储出〔2026〕15号地块国有建设用地使用权",
            tenderer=land,
            transaction_type=TransactionType.LAND,
            region="萧山区",
        ),
        "HZTD-2026-015-01",
        "15号地块",
        5_000_000_000,
        now - 80 * day,
        bidders[9:12],
        award_days_ago=30,
        contract_days_ago=25,
        price=5_600_000_000,
        winner=bidders[10],
        staff=staff,
    )
    # A complaint about the evaluation of the construction section, decided; a notice on the procurement one.
    complainant = bidders[0].people.first()
    complaint = complaint_file(
        actor=complainant,
        section=lanes,
        subject="other",
        body="中标人项目经理存在在建项目，请求核查。",
        known_on=timezone.localdate(),
    )
    complaint_accept(actor=supervisor, complaint=complaint)
    complaint_decide(actor=supervisor, complaint=complaint, decision="经核查，中标人项目经理无在建项目，投诉不成立。")
    # A publication refused by DOC-MIN-20D (a 19-day window): the refusal is the console's first alert.
    # Noon of the 19th day, so that the hour added never crosses midnight into a 20th calendar day.
    nineteen_days_on = (timezone.localtime(now) + 19 * day).replace(hour=12, minute=0, second=0, microsecond=0)
    short = Section.objects.create(
        project=lanes.project,
        public_id="HZJS-2026-140-02",
        name="附属管线迁改工程",
        estimated_price_fen=90_000_000,
        deposit_fen=1_800_000,
        documents_issued_at=now,
        registration_start=now,
        registration_end=now + 10 * day,
        bid_deadline=nineteen_days_on + timedelta(hours=1),
        opening_at=nineteen_days_on + timedelta(hours=2),
    )
    with suppress(RuleViolation):  # refused, as it must be; the alert stays
        section_publish(actor=staff, section=short)
    procurement = Section.objects.get(public_id="HZCG-2026-088-01")
    notice_issue(
        actor=supervisor,
        section=procurement,
        subject="请于合同签订后5日内退还保证金",
        body="请交易中心督促招标人按期签订合同并退还投标保证金。",
        respond_by=now + 3 * day,
    )


def _concluded(
    project, public_id, name, budget, published, organizations, *, award_days_ago, contract_days_ago, price, winner, staff
):
    """A section that went the whole way: history rows as it would have left them, deposits paid and refunded."""
    now = timezone.now()
    day = timedelta(days=1)
    deadline = published + 25 * day
    state = S.CONTRACTED if contract_days_ago is not None else S.AWARDED
    section = Section.objects.create(
        project=project,
        public_id=public_id,
        name=name,
        estimated_price_fen=budget,
        deposit_fen=budget // 100,
        documents_issued_at=published,
        registration_start=published,
        registration_end=published + 15 * day,
        bid_deadline=deadline,
        opening_at=deadline,
        published_at=published,
        opened_at=deadline,
        state=state,
    )
    steps = list(pairwise(PATH))
    for n, (a, b) in enumerate(steps):
        at = published + n * (deadline - published) / len(steps) if b != S.AWARDED else now - award_days_ago * day
        row = SectionTransition.objects.create(section=section, from_state=a, to_state=b)
        SectionTransition.objects.filter(pk=row.pk).update(at=at)
    if contract_days_ago is not None:
        row = SectionTransition.objects.create(section=section, from_state=S.AWARDED, to_state=S.CONTRACTED)
        SectionTransition.objects.filter(pk=row.pk).update(at=now - contract_days_ago * day)
    for n, organization in enumerate(organizations):
        registration = Registration.objects.create(
            section=section,
            organization=organization,
            registered_by=organization.people.first(),
            bidder_code=new_bidder_code(),
            contact_name="联系人",
            contact_phone="0571-88888888",
        )
        deposit = deposit_open(registration=registration)
        txn = SimTransaction.objects.create(
            txn_id="T" + uuid.uuid4().hex,
            kind=SimTransaction.Kind.PAYMENT,
            virtual_account=deposit.virtual_account,
            amount_fen=deposit.amount_due_fen,
            payer_name=f"{organization.name}财务部",
            payer_account=f"62220202{organization.pk:04d}{n:04d}",
            at=deadline - 2 * day,
        )
        body = simulated.notification_body(txn)
        notification_receive(provider_name="sim", body=body, signature=simulated.sign(body))
        if contract_days_ago is not None:
            deposit_refund(deposit=deposit, reason="DEP-REFUND-5D")
    AwardReport.objects.create(
        section=section,
        submitted_by=staff,
        award_price_fen=price,
        winner_name=winner.name,
        body="招标投标情况书面报告（示例）",
        submitted_at=now - (award_days_ago - 2) * day,
    )
    return section
