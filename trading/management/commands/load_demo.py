"""A realistic demo trading centre: parties, people, an expert pool and sections in every phase."""

import hashlib
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bidding.ceremony import custodian_key_set
from bidding.evaluation.demo import demo_pool
from bidding.models import Registration
from bidding.opening_demo import demo_opened_section, opening_demo
from bidding.services import new_bidder_code
from escrow.demo import demo_deposits_paid
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, checkpoint_create
from trading.models import (
    Announcement,
    AnnouncementKind,
    Document,
    Organization,
    OrganizationKind,
    Procedure,
    Project,
    Role,
    Section,
    SectionState,
    TransactionType,
    User,
)
from trading.services.lifecycle import section_transition
from trading.services.sections import section_publish
from trading.workdays import seed_from_chinese_calendar

DEMO_PASSWORD = "sunlight-demo-2026"  # noqa: S105  (demo data, printed in the README)
# Demo only: a fixed TOTP secret so people can add it to an authenticator (base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ).
DEMO_CUSTODIAN_PASSPHRASE = "sunlight-custodian-2026"  # noqa: S105  (demo only)
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"

BIDDERS = [
    "浙江宏远建设集团有限公司",
    "杭州市政工程有限公司",
    "中建八局第三建设有限公司",
    "华东路桥股份有限公司",
    "钱江水利建设有限公司",
    "杭州智联信息技术有限公司",
    "浙江绿城园林工程有限公司",
    "杭州新世纪设备有限公司",
    "宁波港城建筑有限公司",
    "温州瓯江实业有限公司",
    "金华恒达置业有限公司",
    "绍兴越城产权投资有限公司",
]
REGIONS = ["上城区", "西湖区", "滨江区", "萧山区"]


class Command(BaseCommand):
    help = "Create the demo trading centre (idempotent: does nothing when it already exists)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, quiet=False, **options):
        if User.objects.filter(username="staff").exists():
            if not quiet:
                self.stdout.write("demo data already present")
            return
        seed_from_chinese_calendar(range(2024, 2028))
        with transaction.atomic():
            self.create()
            demo_pool()
        checkpoint_create()
        if not quiet:
            self.stdout.write(
                self.style.SUCCESS(
                    f"demo ready: users staff, supervisor, custodian1-3, tenderer, agency, bidder1-12, expert1-15; "
                    f"password {DEMO_PASSWORD}; TOTP secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                )
            )

    def org(self, name, kind, code, **extra):
        return Organization.objects.create(name=name, kind=kind, credit_code=code, region=extra.pop("region", "上城区"), **extra)

    def person(self, username, role, organization, *, custodian=False, first_name=""):
        user = User(username=username, role=role, organization=organization, is_key_custodian=custodian, first_name=first_name)
        user.set_password(DEMO_PASSWORD)
        user.save()
        if user.needs_second_factor:
            TOTPDevice.objects.create(user=user, name="demo", key=DEMO_TOTP_KEY, confirmed=True)
        return user

    def create(self):
        exchange = self.org("杭州市公共资源交易中心", OrganizationKind.EXCHANGE, "12330100MB0000001X")
        supervision = self.org("杭州市发展和改革委员会（招投标监管）", OrganizationKind.SUPERVISOR, "11330100MB0000002X")
        housing = self.org(
            "杭州市城市建设发展中心", OrganizationKind.TENDERER, "12330100MB0000003X", legal_representative="王建国"
        )
        education = self.org("杭州市教育局", OrganizationKind.TENDERER, "11330100MB0000004X", legal_representative="李教")
        land = self.org("杭州市规划和自然资源局", OrganizationKind.TENDERER, "11330100MB0000005X", legal_representative="赵地")
        agency = self.org("浙江求是招标代理有限公司", OrganizationKind.AGENCY, "91330100MA0000006X", legal_representative="钱代")
        self.staff = self.person("staff", Role.STAFF, exchange, first_name="陈工")
        self.person("custodian1", Role.STAFF, exchange, custodian=True)
        self.person("supervisor", Role.SUPERVISOR, supervision)
        self.person("custodian2", Role.SUPERVISOR, supervision, custodian=True)
        self.person("tenderer", Role.TENDERER, housing)
        self.person("custodian3", Role.TENDERER, housing, custodian=True)
        self.person("tenderer2", Role.TENDERER, education, custodian=True)
        self.person("landbureau", Role.TENDERER, land)
        self.person("agency", Role.AGENCY, agency)
        for username in ("custodian1", "custodian2", "custodian3", "tenderer2"):
            custodian_key_set(user=User.objects.get(username=username), passphrase=DEMO_CUSTODIAN_PASSPHRASE)
        bidders = []
        for n, name in enumerate(BIDDERS, start=1):
            organization = self.org(
                name, OrganizationKind.BIDDER, f"91330100MA{n:07d}B", legal_representative=f"法人代表{n}", region=REGIONS[n % 4]
            )
            bidders.append(organization)
            self.person(f"bidder{n}", Role.BIDDER, organization)
        for n in range(1, 16):
            employer = self.org(
                f"浙江省专家库第{n}工作单位", OrganizationKind.EXPERT_EMPLOYER, f"12330100EX{n:06d}X", region=REGIONS[n % 4]
            )
            self.person(f"expert{n}", Role.EXPERT, employer)

        now = timezone.now()
        day = timedelta(days=1)
        road = Project.objects.create(
            code="HZJS-2026-101",
            name="钱塘江南岸滨江大道改造工程",
            tenderer=housing,
            agency=agency,
            transaction_type=TransactionType.CONSTRUCTION,
            region="滨江区",
        )
        school = Project.objects.create(
            code="HZCG-2026-207",
            name="市属中学智慧教室设备采购",
            tenderer=education,
            transaction_type=TransactionType.PROCUREMENT,
            region="西湖区",
        )
        parcel = Project.objects.create(
            code="HZTD-2026-031",
            name="萧山区商住用地使用权出让",
            tenderer=land,
            transaction_type=TransactionType.LAND,
            region="萧山区",
        )
        shares = Project.objects.create(
            code="HZCQ-2026-012",
            name="市属国企闲置厂房产权转让",
            tenderer=land,
            transaction_type=TransactionType.PROPERTY,
            region="上城区",
        )
        bridge = Project.objects.create(
            code="HZJS-2026-088",
            name="上城区人行天桥新建工程",
            tenderer=housing,
            transaction_type=TransactionType.CONSTRUCTION,
            region="上城区",
        )

        def section(project, public_id, name, estimate, deposit, start, deadline, **extra):
            return Section.objects.create(
                project=project,
                public_id=public_id,
                name=name,
                estimated_price_fen=estimate,
                deposit_fen=deposit,
                documents_issued_at=now + start * day,
                registration_start=now + start * day,
                registration_end=now + (deadline - 5) * day,
                bid_deadline=now + deadline * day,
                opening_at=now + deadline * day,
                **extra,
            )

        # Published through the services, so every rule runs on demo data too.
        live = [
            section(road, "HZJS-2026-101-01", "第一标段（道路工程）", 8_600_000_000, 80_000_000, 0, 24),
            section(road, "HZJS-2026-101-02", "第二标段（排水工程）", 3_200_000_000, 50_000_000, 0, 26),
            section(school, "HZCG-2026-207-01", "第一包（交互式显示设备）", 1_150_000_000, 20_000_000, 0, 22),
            section(
                parcel,
                "HZTD-2026-031-01",
                "萧政储出〔2026〕31号地块",
                120_000_000_000,
                24_000_000_000,
                0,
                20,
                procedure=Procedure.AUCTION,
                starting_price_fen=120_000_000_000,
                increment_fen=100_000_000,
            ),
            section(
                shares,
                "HZCQ-2026-012-01",
                "望江路厂房（建筑面积4,200㎡）",
                2_600_000_000,
                300_000_000,
                0,
                15,
                procedure=Procedure.AUCTION,
                starting_price_fen=2_600_000_000,
                increment_fen=5_000_000,
            ),
        ]
        for item in live:
            invitation = (
                "现公开挂牌出让，欢迎符合条件的竞买人报名。"
                if item.procedure == Procedure.AUCTION
                else "已具备招标条件，现公开招标，欢迎符合条件的单位报名。"
            )
            section_publish(actor=self.staff, section=item, body=f"{item.project.name}{item.name}{invitation}")
            self.document(item, "招标文件")
        __import__("bidding.auction.demo").auction.demo.demo_sales(actor=self.staff)  # the sales' rules (bidding.auction)
        section(bridge, "HZJS-2026-088-01", "人行天桥主体工程", 1_800_000_000, 30_000_000, 2, 30)  # a draft

        # Sections further along: created as history would have left them.
        past = now - 40 * day
        closed = self.past_section(
            bridge, "HZJS-2026-088-02", "附属绿化工程", 420_000_000, 8_000_000, past, SectionState.BIDDING_CLOSED
        )
        failed = self.past_section(
            school, "HZCG-2026-207-03", "第三包（实验室耗材）", 120_000_000, 2_000_000, past, SectionState.FAILED
        )
        for target, count in ((closed, 4), (failed, 2)):
            registrations = []
            for organization in bidders[:count]:
                registration = Registration.objects.create(
                    section=target,
                    organization=organization,
                    registered_by=organization.people.first(),
                    bidder_code=new_bidder_code(),
                    contact_name="联系人",
                    contact_phone="0571-88888888",
                )
                audit_append(
                    event=AuditEvent.REGISTERED,
                    actor=organization.people.first(),
                    section=target,
                    data={"bidder_code": registration.bidder_code},
                )
                registrations.append(registration)
            demo_deposits_paid(registrations=registrations, received_at=past + 10 * day)
        opening_demo(staff=self.staff, project=bridge, organizations=bidders[:3])  # ready to open at /openings/…/console/
        # Opened at the deadline just passed, through the opening's services: each bid read out, the record signed.
        demo_opened_section(
            staff=self.staff,
            project=school,
            public_id="HZCG-2026-207-02",
            name="第二包（录播系统）",
            estimated_price_fen=660_000_000,
            deposit_fen=12_000_000,
            organizations=bidders[:5],
            prices=[641_280_000, 628_900_000, 652_350_000, 619_740_000, 637_060_000],
        )
        evaluating = demo_opened_section(
            staff=self.staff,
            project=road,
            public_id="HZJS-2026-101-03",
            name="第三标段（照明工程）",
            estimated_price_fen=980_000_000,
            deposit_fen=19_000_000,
            organizations=bidders[:6],
            prices=[951_600_000, 938_270_000, 962_450_000, 927_880_000, 944_310_000, 958_020_000],
        )
        section_transition(section=evaluating, to_state=SectionState.EVALUATING, actor=self.staff, reason="evaluation session")
        Announcement.objects.create(
            section=failed,
            kind=AnnouncementKind.FAILURE,
            title=f"{failed.project.name}{failed.name}流标公告",
            body="投标人少于3个，依法不予开标，将重新组织采购。",
            published_at=past + 26 * day,
        )
        from trading.supervision.demo import supervision_demo

        supervision_demo(staff=self.staff)

    def past_section(self, project, public_id, name, estimate, deposit, start, state):
        day = timedelta(days=1)
        section = Section.objects.create(
            project=project,
            public_id=public_id,
            name=name,
            estimated_price_fen=estimate,
            deposit_fen=deposit,
            documents_issued_at=start,
            registration_start=start,
            registration_end=start + 15 * day,
            bid_deadline=start + 25 * day,
            opening_at=start + 25 * day,
            published_at=start,
            state=state,
        )
        Announcement.objects.create(
            section=section,
            kind=AnnouncementKind.TENDER,
            title=f"{project.name}{name}招标公告",
            body="现公开招标，欢迎符合条件的单位报名。",
            published_at=start,
        )
        self.document(section, "招标文件")
        return section

    def document(self, section, name):
        content = f"{section.project.name} {section.name} 招标文件（示例）\n".encode() * 200
        digest = hashlib.sha256(content).hexdigest()
        document = Document(
            section=section,
            name=name,
            version=1,
            filename=f"{section.public_id}.txt",
            content_type="text/plain",
            size=len(content),
            sha256=digest,
            uploaded_by=self.staff,
        )
        document.file.save(digest, ContentFile(content), save=False)
        document.save()
