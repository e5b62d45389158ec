"""factory_boy factories for the trading core."""

from datetime import timedelta

import factory
from django.utils import timezone

from bidding.models import Registration
from trading.models import Organization, OrganizationKind, Project, Role, Section, TransactionType, User


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"测试单位{n:03d}有限公司")
    kind = OrganizationKind.BIDDER
    credit_code = factory.Sequence(lambda n: f"91330100{n:010d}")
    legal_representative = factory.Sequence(lambda n: f"法人{n:03d}")
    region = "上城区"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n:04d}")
    role = Role.PUBLIC
    password = factory.django.Password("correct-horse-9")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    code = factory.Sequence(lambda n: f"P-2026-{n:04d}")
    name = factory.Sequence(lambda n: f"市政道路改造工程{n}")
    tenderer = factory.SubFactory(OrganizationFactory, kind=OrganizationKind.TENDERER)
    transaction_type = TransactionType.CONSTRUCTION
    region = "上城区"


def _days(n: int):
    return timezone.now() + timedelta(days=n)


class SectionFactory(factory.django.DjangoModelFactory):
    """A draft whose schedule passes every publish rule."""

    class Meta:
        model = Section
        skip_postgeneration_save = True

    public_id = factory.Sequence(lambda n: f"S-2026-{n:05d}")
    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"第{n}标段")
    estimated_price_fen = 500_000_000  # 5,000,000.00 yuan
    deposit_fen = 10_000_000  # exactly 2%
    documents_issued_at = factory.LazyFunction(lambda: _days(0))
    registration_start = factory.LazyFunction(lambda: _days(0))
    registration_end = factory.LazyFunction(lambda: _days(10))
    bid_deadline = factory.LazyFunction(lambda: _days(25))
    opening_at = factory.LazyFunction(lambda: _days(25))

    @factory.post_generation
    def custodian(self, create, extracted, **kwargs):
        # Publication makes the opening key, which needs the tenderer's custodian.
        if create:
            platform_custodians()
            tenderer_custodian(self.project.tenderer)


def enrol_custodian(user, passphrase: str = "custodian-passphrase-1") -> None:
    from bidding.ceremony import custodian_key_set

    user.is_key_custodian = True
    user.save(update_fields=["is_key_custodian"])
    custodian_key_set(user=user, passphrase=passphrase)


def platform_custodians() -> None:
    """The exchange's and the supervisor's key custodians, as a real centre has them (made once per test database)."""
    for role, kind in ((Role.STAFF, OrganizationKind.EXCHANGE), (Role.SUPERVISOR, OrganizationKind.SUPERVISOR)):
        if not User.objects.filter(role=role, is_key_custodian=True, custodian_key__isnull=False).exists():
            enrol_custodian(UserFactory(role=role, organization=OrganizationFactory(kind=kind)))


def tenderer_custodian(organization):
    """The tenderer's key custodian (one per tenderer), enrolled with a test passphrase."""
    existing = User.objects.filter(organization=organization, is_key_custodian=True).first()
    if existing:
        return existing
    user = UserFactory(role=Role.TENDERER, organization=organization)
    enrol_custodian(user)
    return user


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    section = factory.SubFactory(SectionFactory)
    organization = factory.SubFactory(OrganizationFactory)
    registered_by = factory.SubFactory(UserFactory, role=Role.BIDDER, organization=factory.SelfAttribute("..organization"))
    bidder_code = factory.Sequence(lambda n: f"B-{n:04d}")
    contact_name = "张三"
    contact_phone = "13800000000"


def days(n, hours=0):
    """n days from now; with `hours`, that many hours after noon (Asia/Shanghai) of that day, so that the offset
    never crosses midnight: the rules count calendar dates (DOC-MIN-20D), and 19 days plus an hour taken at
    23:30 would be 20 of them."""
    if not hours:
        return timezone.now() + timedelta(days=n)
    noon = (timezone.localtime() + timedelta(days=n)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon + timedelta(hours=hours)
