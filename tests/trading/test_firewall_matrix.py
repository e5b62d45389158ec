"""The firewall matrix (SECRET-BIDDERS): every endpoint and page, as every role, in every phase.

Endpoints are discovered from the URL conf, so a new one joins the matrix by
existing; one with a URL argument the matrix cannot fill fails loudly until the
filler below learns it.
"""

import re
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from bidding.models import Upload
from escrow.gateways import Notification
from escrow.models import Deposit, SimOrder
from escrow.services.deposits import deposit_open
from escrow.services.payments import payment_record
from tests.conftest import signed_in
from tests.factories import OrganizationFactory, ProjectFactory, RegistrationFactory, SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.models import Announcement, AnnouncementKind, Document, OrganizationKind, Role, SectionState
from trading.supervision.models import Alert

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROLES = [
    "anonymous",
    Role.PUBLIC,
    Role.TENDERER,
    "other_tenderer",
    Role.AGENCY,
    Role.STAFF,
    Role.SUPERVISOR,
    Role.EXPERT,
    "bidder_a",
    "bidder_b",
    "bidder_outside",
]
PHASES = {
    "draft": SectionState.DRAFT,
    "published": SectionState.PUBLISHED,
    "bidding_closed": SectionState.BIDDING_CLOSED,
    "opening": SectionState.OPENING,
    "suspended_sealed": SectionState.SUSPENDED,
    "failed_unopened": SectionState.FAILED,
    "opened": SectionState.OPENED,
}
SEALED_PHASES = set(PHASES) - {"opened"}


def discover(resolver=None, prefix=""):
    """Every URL pattern of the project as (route, name)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from discover(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.name


def fill(route: str, section, document_pk: int, announcement_pk: int) -> list[str]:
    """Concrete paths for a route; unknown arguments fail so new endpoints get covered."""
    path = route.replace("^", "").replace("$", "")
    paths = [path]
    for arg in re.findall(r"<(?:\w+:)?(\w+)>", path):
        values = {
            "public_id": [section.public_id],
            "pk": [document_pk if "document" in path else announcement_pk],
            "action": ["publish", "register", "suspend", "resume"],
            "format": ["json"],
            # bidder A's own upload on this section, and one that does not exist
            "upload_id": [
                *Upload.objects.filter(registration__section=section).values_list("pk", flat=True)[:1],
                "00000000-0000-4000-8000-000000000000",
            ],
            # a simulated provider's payment order for bidder A's deposit on this section, and one that does not exist
            "order_id": [
                *SimOrder.objects.filter(virtual_account__in=deposit_accounts(section)).values_list("pk", flat=True)[:1],
                "00000000-0000-4000-8000-000000000000",
            ],
            # supervision: an alert of this section (the world's DEP-SAME-PAYER), and ids that do not exist
            "alert_id": [*Alert.objects.filter(section=section).values_list("pk", flat=True)[:1], 999999],
            "notice_id": [999999],
            "complaint_id": [999999],
            "objection_id": [999999],
        }.get(arg)
        if values is None:
            raise AssertionError(f"the firewall matrix cannot fill <{arg}> in {route}: teach fill() about it")
        paths = [re.sub(rf"<(?:\w+:)?{arg}>", str(v), p) for p in paths for v in values]
    return ["/" + p for p in paths]


@dataclass
class World:
    users: dict
    sections: dict
    secrets: dict  # phase -> strings that must not leak to outsiders while sealed
    own: dict  # role -> strings that role may see about itself


def build_world(make_user) -> World:
    tenderer_org = OrganizationFactory(kind=OrganizationKind.TENDERER, name="招标人甲单位")
    agency_org = OrganizationFactory(kind=OrganizationKind.AGENCY, name="代理乙单位")
    bidder_a = OrganizationFactory(name="投标人阿尔法建设有限公司", credit_code="91330100ALPHA00001")
    bidder_b = OrganizationFactory(name="投标人贝塔工程有限公司", credit_code="91330100BETA000002")
    users = {
        "anonymous": None,
        Role.PUBLIC: make_user(Role.PUBLIC),
        Role.TENDERER: make_user(Role.TENDERER, organization=tenderer_org),
        "other_tenderer": make_user(Role.TENDERER),
        Role.AGENCY: make_user(Role.AGENCY, organization=agency_org),
        Role.STAFF: make_user(Role.STAFF),
        Role.SUPERVISOR: make_user(Role.SUPERVISOR),
        Role.EXPERT: make_user(Role.EXPERT),
        "bidder_a": make_user(Role.BIDDER, organization=bidder_a),
        "bidder_b": make_user(Role.BIDDER, organization=bidder_b),
        "bidder_outside": make_user(Role.BIDDER),
    }
    sections, secrets = {}, {}
    project = ProjectFactory(tenderer=tenderer_org, agency=agency_org)
    for n, (phase, state) in enumerate(PHASES.items()):
        section = SectionFactory(project=project, public_id=f"FW-{n:03d}", state=state)
        if state == SectionState.SUSPENDED:
            section.suspended_from = SectionState.PUBLISHED
        if phase == "opened":
            section.opened_at = timezone.now()
        if state != SectionState.DRAFT:
            section.published_at = timezone.now()
        section.save()
        Announcement.objects.create(
            section=section, kind=AnnouncementKind.TENDER, title=f"公告{n}", body="正文", published_at=timezone.now()
        )
        make_document(section)
        if phase == "opened":
            # Opened: names are public, so these are two other companies (A's and B's names stay secret everywhere).
            for letter in "CD":
                RegistrationFactory(
                    section=section,
                    bidder_code=f"B-{letter}{n:02d}",
                    organization=OrganizationFactory(name=f"已开标公司{letter}"),
                )
            sections[phase] = section
            continue
        ra = RegistrationFactory(
            section=section, organization=bidder_a, registered_by=users["bidder_a"], bidder_code=f"B-A{n:02d}"
        )
        Upload.objects.create(registration=ra, size=1000)
        rb = RegistrationFactory(
            section=section, organization=bidder_b, registered_by=users["bidder_b"], bidder_code=f"B-B{n:02d}"
        )
        for registration, user in ((ra, users["bidder_a"]), (rb, users["bidder_b"])):
            audit_append(event=AuditEvent.REGISTERED, actor=user, section=section, data={"bidder_code": registration.bidder_code})
        pay_deposits(ra, rb, n)
        sections[phase] = section
        secrets[phase] = {
            "bidder_a": [bidder_a.name, bidder_a.credit_code, ra.bidder_code],
            "bidder_b": [bidder_b.name, bidder_b.credit_code, rb.bidder_code],
            # who paid a deposit: sealed from everyone, the bidder included, before opening
            "payer": [f"付款人甲财务{n:02d}", f"付款人乙财务{n:02d}", f"62220202{n:02d}99887766"],
        }
    from trading.supervision.services.feed import feed_stream

    feed_stream()  # the supervisors' feed, as a live platform has it (the world's alerts are held until opening)
    return World(users=users, sections=sections, secrets=secrets, own={})


def deposit_accounts(section) -> list[str]:
    return list(Deposit.objects.filter(registration__section=section).values_list("virtual_account", flat=True))


def pay_deposits(ra, rb, n: int) -> None:
    """Both bidders' deposits paid, from one account (a DEP-SAME-PAYER alert), and a provider order for A."""
    for registration, payer in ((ra, f"付款人甲财务{n:02d}"), (rb, f"付款人乙财务{n:02d}")):
        deposit = deposit_open(registration=registration)
        note = Notification(
            provider="sim",
            txn_id=f"FW-TXN-{registration.pk}",
            virtual_account=deposit.virtual_account,
            amount_fen=deposit.amount_due_fen,
            currency="CNY",
            payer_name=payer,
            payer_account=f"62220202{n:02d}99887766",
            received_at=timezone.now(),
        )
        payment_record(note=note, source="notification")
    SimOrder.objects.create(virtual_account=ra.deposit.virtual_account, amount_fen=ra.deposit.amount_due_fen)


def make_document(section) -> Document:
    document = Document(section=section, name="招标文件", filename="x.txt", size=1, sha256="0" * 64)
    document.file.save("x", ContentFile(b"x"), save=False)
    document.save()
    return document


def client_for(client_factory, user):
    client = client_factory()
    if user is not None:
        signed_in(client, user)
    return client


def routes():
    return sorted(set(discover()))


def test_matrix_discovers_every_api_endpoint_and_page():
    found = {name for _route, name in routes()}
    # A sanity floor: if discovery broke, the matrix would pass vacuously.
    for name in (
        "api-announcements",
        "api-section",
        "api-section-registrations",
        "api-my-registrations",
        "api-audit-entries",
        "portal",
        "section-detail",
        "workspace",
        "audit",
    ):
        assert name in found


def matrix_paths(world) -> list[str]:
    """Every route filled for every section phase, each path once.

    A route without arguments is the same path in every phase: it is asked at the start and
    again at the end, after every POST of the matrix has had its effect, not once per phase.
    """
    paths, unfilled = [], []
    for route, name in routes():
        if name in ("set_language", "logout"):
            continue
        for section in world.sections.values():
            paths += fill(route, section, section.documents.first().pk, section.announcements.first().pk)
        if "<" not in route:
            unfilled.append(fill(route, None, 0, 0)[0])
    return [*dict.fromkeys(paths), *unfilled]


@pytest.mark.parametrize("role", ROLES)
def test_nothing_sealed_leaks_to_anyone_but_the_bidder_itself(role, make_user, client):
    """SECRET-BIDDERS: GET and POST every route for every section phase; scan every answer."""
    from django.test import Client

    world = build_world(make_user)
    http = client_for(Client, world.users[role])
    secrets = [
        (phase_name, secret)
        for phase_name, owners in world.secrets.items()
        if phase_name in SEALED_PHASES
        for owner, strings in owners.items()
        if owner != role  # a bidder sees its own
        for secret in strings
    ]
    checked = 0
    for path in matrix_paths(world):
        for method in ("get", "post"):
            body = _text(getattr(http, method)(path, follow=False))
            checked += 1
            for phase_name, secret in secrets:
                assert secret not in body, f"{secret!r} of {phase_name} leaked to {role} at {method.upper()} {path}"
    assert checked > 100


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_opened_section_reveals_names_to_officials(make_user):
    """After opening the names are public: the policy must not over-hide either."""
    from django.test import Client

    world = build_world(make_user)
    opened = world.sections["opened"]
    for role in (Role.STAFF, Role.SUPERVISOR, Role.TENDERER):
        body = _text(client_for(Client, world.users[role]).get(f"/api/v1/sections/{opened.public_id}/registrations/"))
        assert "已开标公司C" in body and "已开标公司D" in body


def test_a_bidder_sees_its_own_registration_and_never_another_bidders(make_user):
    """IDOR: bidder A asks for everything; B's objects never come back, A's do."""
    from django.test import Client

    world = build_world(make_user)
    http = client_for(Client, world.users["bidder_a"])
    mine = http.get("/api/v1/registrations/").json()["results"]
    assert {r["bidder_code"] for r in mine} == {f"B-A{n:02d}" for n, phase in enumerate(PHASES) if phase != "opened"}
    for section in world.sections.values():
        listed = http.get(f"/api/v1/sections/{section.public_id}/registrations/")
        codes = {r["bidder_code"] for r in listed.json()} if listed.status_code == 200 else set()
        if section.state == SectionState.DRAFT:
            assert listed.status_code == 404
        elif section.opened_at:
            assert {code[:3] for code in codes} == {"B-C", "B-D"}
        else:
            assert {code[:3] for code in codes} == {"B-A"}


NOISE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?"), "<time>"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), "<csrf>"),
    (re.compile(r'"X-CSRFTOKEN"\] = "[^"]+"'), "<csrf>"),
    (re.compile(r'"id":\s*\d+'), '"id":<n>'),
    (re.compile(r"/(documents|announcements)/\d+/"), r"/\1/<n>/"),
]


def normalized(body: str, section) -> str:
    body = body.replace(section.public_id, "<section>").replace(section.name, "<name>")
    for pattern, replacement in NOISE:
        body = pattern.sub(replacement, body)
    return body


@pytest.mark.parametrize(
    "role", ["anonymous", Role.PUBLIC, Role.TENDERER, Role.AGENCY, Role.STAFF, Role.SUPERVISOR, Role.EXPERT, "bidder_outside"]
)
def test_one_registration_or_seven_look_the_same(role, make_user):
    """SECRET-BIDDERS side channel: no answer differs between a section with 1 registration and one with 7,
    each with its paid deposit, an upload and a document download."""
    from django.test import Client

    world = build_world(make_user)
    project = world.sections["published"].project
    twins = {}
    fixed = timezone.now()
    for count in (1, 7):
        section = SectionFactory(
            published_at=fixed,
            project=project,
            public_id=f"TWIN-{count}",
            name=f"孪生标段{count}",
            state=SectionState.PUBLISHED,
            documents_issued_at=fixed,
            registration_start=fixed,
            registration_end=fixed + timezone.timedelta(days=10),
            bid_deadline=fixed + timezone.timedelta(days=25),
            opening_at=fixed + timezone.timedelta(days=25),
        )
        Announcement.objects.create(
            section=section, kind=AnnouncementKind.TENDER, title="孪生公告", body="正文", published_at=fixed
        )
        make_document(section)
        for n in range(count):
            registration = RegistrationFactory(section=section)
            audit_append(
                event=AuditEvent.REGISTERED,
                actor=registration.registered_by,
                section=section,
                data={"bidder_code": registration.bidder_code},
            )
            # and all that follows a registration: a paid deposit, an upload, a download
            deposit = deposit_open(registration=registration)
            note = Notification(
                provider="sim",
                txn_id=f"TWIN-{count}-{n}",
                virtual_account=deposit.virtual_account,
                amount_fen=deposit.amount_due_fen,
                currency="CNY",
                payer_name=f"孪生付款人{count}-{n}",
                payer_account=f"6222{count:04d}{n:08d}",
                received_at=fixed,
            )
            payment_record(note=note, source="notification")
            Upload.objects.create(registration=registration, size=1000)
            audit_append(
                event=AuditEvent.DOCUMENT_DOWNLOADED,
                actor=registration.registered_by,
                section=section,
                data={"document": section.documents.first().pk},
            )
        twins[count] = section
    http = client_for(Client, world.users[role])
    compared = 0
    for route, name in routes():
        if "<" not in route or name in ("set_language",):
            continue
        answers = {}
        for count, section in twins.items():
            paths = fill(route, section, section.documents.first().pk, section.announcements.first().pk)
            answers[count] = [(p, normalized(f"{r.status_code} {_text(r)}", section)) for p in paths for r in [http.get(p)]]
        for (path, one), (_path, seven) in zip(answers[1], answers[7], strict=True):
            assert one == seven, f"{path} differs between 1 and 7 registrations for {role}"
            compared += 1
    assert compared >= 5


def registered_and_paid(section, count: int, tag: str) -> None:
    """`count` more registrations in a sealed section, each with what follows: a paid deposit, an upload, a download."""
    for n in range(count):
        registration = RegistrationFactory(section=section)
        audit_append(
            event=AuditEvent.REGISTERED,
            actor=registration.registered_by,
            section=section,
            data={"bidder_code": registration.bidder_code},
        )
        deposit = deposit_open(registration=registration)
        note = Notification(
            provider="sim",
            txn_id=f"MORE-{tag}-{n}",
            virtual_account=deposit.virtual_account,
            amount_fen=deposit.amount_due_fen,
            currency="CNY",
            payer_name=f"又一付款人{n}",
            payer_account=f"6222777{n:08d}",
            received_at=timezone.now(),
        )
        payment_record(note=note, source="notification")
        Upload.objects.create(registration=registration, size=1000)
        audit_append(
            event=AuditEvent.DOCUMENT_DOWNLOADED,
            actor=registration.registered_by,
            section=section,
            data={"document": section.documents.first().pk},
        )


@pytest.mark.parametrize(
    "role", ["anonymous", Role.PUBLIC, Role.TENDERER, Role.AGENCY, Role.STAFF, Role.SUPERVISOR, Role.EXPERT, "bidder_outside"]
)
def test_pages_of_no_section_do_not_move_when_bidders_register(role, make_user):
    """SECRET-BIDDERS side channel: the routes without a section (lists, consoles, reports, statistics, open data)
    answer the same before and after six more bidders register, pay and download in a sealed section."""
    from django.test import Client

    world = build_world(make_user)
    http = client_for(Client, world.users[role])
    skip = ("set_language", "logout")
    paths = [fill(route, None, 0, 0)[0] for route, name in routes() if "<" not in route and name not in skip]

    def answers():
        return {p: normalized(f"{r.status_code} {_text(r)}", world.sections["published"]) for p in paths for r in [http.get(p)]}

    before, again = answers(), answers()
    noisy = {p for p in paths if before[p] != again[p]}  # a fresh secret per answer (second-factor set-up)
    assert len(noisy) <= 1, noisy
    registered_and_paid(world.sections["published"], 6, role)
    after = answers()
    for path in set(paths) - noisy:  # /audit/ too: the bidders' acts wait in the section's sealed chain
        assert before[path] == after[path], f"{path} moved for {role} when bidders registered"
