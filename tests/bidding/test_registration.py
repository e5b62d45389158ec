"""Registration (报名): the window, once per bidder, BID-NO-RELATED, audited document downloads."""

import pytest
from django.core.files.base import ContentFile

from bidding.services import registration_create
from tests.asgi import http_scope
from tests.conftest import signed_in
from tests.factories import OrganizationFactory, SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import SealedAuditEntry
from trading.errors import DomainError, RuleViolation
from trading.models import Document, Role
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def section(staff):
    return section_publish(actor=staff, section=SectionFactory())


def register(user, section):
    return registration_create(actor=user, section=section, contact_name="赵六", contact_phone="13600000000")


def test_a_bidder_registers_once_under_a_pseudonymous_code(make_user, section):
    bidder = make_user(Role.BIDDER)
    registration = register(bidder, section)
    assert registration.bidder_code.startswith("B-") and bidder.organization.name not in registration.bidder_code
    with pytest.raises(DomainError) as again:
        register(bidder, section)
    assert again.value.code == "ALREADY-REGISTERED"


@pytest.mark.parametrize("relation", ["same legal representative", "controlled by", "controls", "same parent"])
def test_BID_NO_RELATED_related_companies_cannot_both_register(make_user, section, relation):
    parent = OrganizationFactory()
    first = OrganizationFactory(legal_representative="王大", controlled_by=parent if relation == "same parent" else None)
    second = {
        "same legal representative": lambda: OrganizationFactory(legal_representative="王大"),
        "controlled by": lambda: OrganizationFactory(controlled_by=first),
        "controls": OrganizationFactory,
        "same parent": lambda: OrganizationFactory(controlled_by=parent),
    }[relation]()
    if relation == "controls":
        first.controlled_by = second
        first.save(update_fields=["controlled_by"])
    register(make_user(Role.BIDDER, organization=first), section)
    with pytest.raises(RuleViolation) as refused:
        register(make_user(Role.BIDDER, organization=second), section)
    assert refused.value.code == "BID-NO-RELATED"
    assert first.name not in refused.value.message  # the refusal names no one
    assert section.registrations.count() == 1


def test_an_unrelated_company_registers_beside_them(make_user, section):
    register(make_user(Role.BIDDER, organization=OrganizationFactory(legal_representative="甲")), section)
    register(make_user(Role.BIDDER, organization=OrganizationFactory(legal_representative="乙")), section)
    assert section.registrations.count() == 2


def test_documents_go_to_registered_bidders_only_and_every_download_is_audited(api, make_user, section, staff):
    document = Document(section=section, name="招标文件", filename="doc.pdf", size=3, sha256="0" * 64, uploaded_by=staff)
    document.file.save("doc", ContentFile(b"pdf"), save=False)
    document.save()
    url = f"/api/v1/sections/{section.public_id}/documents/{document.pk}/download/"
    outsider = make_user(Role.BIDDER)
    signed_in(api, outsider)
    assert api.get(url).status_code == 403
    insider = make_user(Role.BIDDER)
    registration = register(insider, section)
    signed_in(api, insider)
    response = api.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"pdf"
    entry = SealedAuditEntry.objects.filter(event=AuditEvent.DOCUMENT_DOWNLOADED).get()
    assert entry.actor_organization_id == insider.organization_id and entry.section_id == section.pk
    assert entry.data == {"document": document.pk, "version": 1, "at": entry.data["at"], "salt": entry.data["salt"]}
    assert registration.organization.name not in str(entry.data)


@pytest.mark.django_db(transaction=True)
def test_a_document_download_streams_in_blocks_under_asgi(make_user, staff):
    """Django would read a synchronous file iterator whole into memory for an ASGI server (and warn); ours reads
    1 MB blocks on a thread as it sends."""
    import asyncio
    import os
    import warnings

    from django.core.handlers.asgi import ASGIHandler
    from rest_framework.authtoken.models import Token

    section = section_publish(actor=staff, section=SectionFactory())
    content = os.urandom((5 << 20) + 1)
    document = Document(section=section, name="招标文件", filename="big.pdf", size=len(content), sha256="0" * 64)
    document.file.save("big", ContentFile(content), save=False)
    document.save()
    insider = make_user(Role.BIDDER)
    register(insider, section)
    path = f"/api/v1/sections/{section.public_id}/documents/{document.pk}/download/"
    token = Token.objects.create(user=insider).key
    scope = http_scope("GET", path, [(b"authorization", f"Token {token}".encode())])
    sent, requests = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    with warnings.catch_warnings():
        # Django's warning when it reads a synchronous iterator whole before sending it.
        warnings.filterwarnings("error", message="StreamingHttpResponse must consume synchronous iterators")
        asyncio.run(ASGIHandler()(scope, receive, send))
    assert sent[0]["status"] == 200
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert b"".join(bodies) == content


def test_a_custodian_sets_its_passphrase_and_sees_its_shares(make_user, section):
    from django.test import Client

    from bidding.models import CustodianKey, KeyShare

    share = KeyShare.objects.filter(opening_key__section=section).select_related("custodian").first()
    custodian = share.custodian
    client = signed_in(Client(), custodian)
    page = client.get("/custodian/").content.decode()
    assert section.public_id in page and share.commitment[:16] in page
    before = CustodianKey.objects.get(custodian=custodian).fingerprint
    client.post("/custodian/", {"passphrase": "a new long passphrase", "confirm": "a new long passphrase"})
    assert CustodianKey.objects.get(custodian=custodian).fingerprint != before
    refused = signed_in(Client(), make_user(Role.BIDDER)).get("/custodian/")
    assert refused.status_code == 403


def test_SECRET_BIDDERS_a_registration_answer_carries_no_sequential_number(client, make_user, staff):
    """SECRET-BIDDERS: registration ids count every registration of the platform; a bidder registering twice
    would learn from its own two ids how many registered meanwhile (and, subtracting the opened sections' lists,
    in which still-sealed section)."""
    bidder = make_user(Role.BIDDER)
    signed_in(client, bidder)
    answers = []
    for _ in range(2):
        section = section_publish(actor=staff, section=SectionFactory())
        register(make_user(Role.BIDDER), section)  # someone else registers in between
        answer = client.post(
            f"/api/v1/sections/{section.public_id}/register/",
            {"contact_name": "赵六", "contact_phone": "13600000000"},
            content_type="application/json",
        )
        assert answer.status_code == 201
        answers.append(answer.json())
    listed = client.get("/api/v1/registrations/").json()["results"]
    pks = {str(pk) for pk in bidder.organization.registrations.values_list("pk", flat=True)}
    for row in [*answers, *listed]:
        assert "id" not in row and not pks & {str(v) for v in row.values()}
