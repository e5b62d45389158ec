"""Who sees which deposit, when (SECRET-BIDDERS): the bidder its own, staff by code before opening, names after."""

from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from escrow.models import Deposit
from escrow.services.payments import notification_receive
from tests.conftest import signed_in
from tests.escrow.conftest import PAYER_ACCOUNT, PAYER_NAME, pay, signed
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.errors import RuleViolation
from trading.models import Role, SectionState

pytestmark = pytest.mark.django_db


def as_user(client, user):
    return signed_in(client, user)


def open_section(section):
    section.state, section.opened_at = SectionState.OPENED, timezone.now()
    section.save(update_fields=["state", "opened_at"])


@pytest.fixture
def two(section, register):
    a, b = register(section).deposit, register(section).deposit
    pay(a, payer_account=PAYER_ACCOUNT)
    pay(b, payer_account=PAYER_ACCOUNT.replace("0", "-0", 1))  # the same account, written differently
    return a, b


def test_a_bidder_sees_its_own_deposit_with_instructions(client, two):
    a, b = two
    bidder = a.registration.registered_by
    body = as_user(client, bidder).get(f"/api/v1/sections/{a.registration.section.public_id}/deposit/").json()
    assert body["virtual_account"] == a.virtual_account and body["status"] == "paid" and body["counts"] is True
    assert body["cutoff_at"] and body["amount_due_fen"] == a.amount_due_fen
    assert b.virtual_account not in str(body) and b.registration.bidder_code not in str(body)
    page = client.get(f"/sections/{a.registration.section.public_id}/deposit/").content.decode()
    assert a.virtual_account in page and "已缴纳" in page
    for text in (str(body), page):
        assert PAYER_NAME not in text and PAYER_ACCOUNT not in text


@pytest.mark.parametrize("role", [Role.TENDERER, Role.SUPERVISOR, Role.STAFF, Role.BIDDER])
def test_nobody_else_gets_a_bidders_deposit(client, make_user, section, two, role):
    answer = as_user(client, make_user(role)).get(f"/api/v1/sections/{section.public_id}/deposit/")
    assert answer.status_code == 403 and answer.json()["code"] == "NOT-REGISTERED"


def test_SECRET_BIDDERS_staff_board_before_opening_is_a_lookup_by_code_not_a_list(client, staff, section, two):
    a, _b = two
    http = as_user(client, staff)
    url = f"/api/v1/sections/{section.public_id}/deposits/"
    assert http.get(url).json() == {"mode": "lookup", "results": []}  # no list, so no count
    found = http.get(url, {"code": a.registration.bidder_code.lower()}).json()
    assert found["mode"] == "lookup" and len(found["results"]) == 1
    row = found["results"][0]
    assert row["bidder"] == a.registration.bidder_code  # the code, never the name
    assert row["status"] == "paid" and a.registration.organization.name not in str(found)
    assert http.get(url, {"code": "B-ZZZZ"}).json() == {"mode": "lookup", "results": []}
    looked = SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_LOOKED_UP)
    assert looked.count() == 2 and looked.first().actor_id == staff.pk
    page = http.get(f"/sections/{section.public_id}/deposits/", {"code": a.registration.bidder_code}).content.decode()
    assert a.virtual_account in page and a.registration.organization.name not in page
    # the lookups themselves stay sealed in the public audit list until opening
    public = client.__class__().get("/api/v1/audit/entries/").content.decode()
    assert a.registration.bidder_code not in public


def test_staff_board_after_opening_lists_everyone_by_name(client, staff, section, two):
    open_section(section)
    body = as_user(client, staff).get(f"/api/v1/sections/{section.public_id}/deposits/").json()
    assert body["mode"] == "list"
    assert {r["bidder"] for r in body["results"]} == {d.registration.organization.name for d in two}
    assert PAYER_NAME not in str(body) and PAYER_ACCOUNT not in str(body)


@pytest.mark.parametrize("role", [Role.TENDERER, Role.AGENCY, Role.SUPERVISOR, Role.EXPERT, Role.PUBLIC])
def test_the_board_is_for_staff_only(client, make_user, section, two, role):
    answer = as_user(client, make_user(role)).get(f"/api/v1/sections/{section.public_id}/deposits/")
    assert answer.status_code == 403


def test_DEP_SAME_PAYER_payers_and_flags_for_the_evaluation_after_opening_only(client, make_user, section, two):
    supervisor, expert, staff = make_user(Role.SUPERVISOR), make_user(Role.EXPERT), make_user(Role.STAFF)
    url = f"/api/v1/sections/{section.public_id}/deposits/payers/"
    for user in (supervisor, expert, staff):
        answer = as_user(client, user).get(url)
        assert answer.status_code == 403 and PAYER_NAME not in answer.content.decode()
    open_section(section)
    assert as_user(client, staff).get(url).status_code == 403  # staff screens never show payers
    for user in (supervisor, expert):
        body = as_user(client, user).get(url).json()
        assert {p["payer_name"] for p in body["payers"]} == {PAYER_NAME}
        assert body["flags"] == [{"rule": "DEP-SAME-PAYER", "bidder_codes": sorted(d.registration.bidder_code for d in two)}]
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_PAYERS_READ).count() == 2


def test_DEP_SAME_PAYER_alert_reaches_supervisors_from_opening_on(client, supervisor, section, two):
    http = as_user(client, supervisor)
    body, signature = signed(two[0], currency="USD")
    with pytest.raises(RuleViolation):
        notification_receive(provider_name="sim", body=body, signature=signature)
    rules = [a["rule"] for a in http.get("/api/v1/escrow/alerts/").json()]
    assert rules == ["DEP-NOTIFICATION"]  # the same-payer alert names codes: sealed until opening
    page = http.get("/escrow/alerts/").content.decode()
    assert "DEP-SAME-PAYER" not in page.replace("如 DEP-SAME-PAYER", "")
    open_section(section)
    alerts = http.get("/api/v1/escrow/alerts/").json()
    same = [a for a in alerts if a["rule"] == "DEP-SAME-PAYER"]
    assert len(same) == 1 and same[0]["bidder_codes"] == sorted(d.registration.bidder_code for d in two)
    assert PAYER_ACCOUNT not in str(alerts)


def test_alerts_are_for_supervisors(client, staff):
    assert as_user(client, staff).get("/api/v1/escrow/alerts/").status_code == 403
    assert client.get("/escrow/alerts/").status_code == 403


def test_forfeit_by_code_after_opening_only(client, staff, section, two):
    a, _b = two
    http = as_user(client, staff)
    url = f"/api/v1/sections/{section.public_id}/deposits/forfeit/"
    data = {"bidder_code": a.registration.bidder_code, "reason": "BID-REVOKE-FORFEIT"}
    before, unknown = http.post(url, data), http.post(url, {**data, "bidder_code": "B-ZZZZ"})
    assert before.status_code == unknown.status_code == 403 and before.json() == unknown.json()  # no oracle
    open_section(section)
    answer = http.post(url, data)
    assert answer.status_code == 200 and answer.json()["status"] == "forfeited"
    assert Deposit.objects.get(pk=a.pk).forfeit_reason == "BID-REVOKE-FORFEIT"


def test_bidder_pays_through_the_provider_and_sees_it_confirmed(client, section, register):
    deposit = register(section).deposit
    http = as_user(client, deposit.registration.registered_by)
    answer = http.post(f"/sections/{section.public_id}/deposit/pay/")
    assert answer.status_code == 302 and answer["Location"].startswith("/sim-gateway/pay/")
    api = http.post(f"/api/v1/sections/{section.public_id}/deposit/pay/")
    assert api.status_code == 201 and api.json()["pay_url"].startswith("/sim-gateway/pay/")
    with pytest.MonkeyPatch.context() as patch:
        from escrow import tasks

        patch.setattr(tasks.sim_deliver, "delay_on_commit", lambda: tasks.sim_deliver.delay())  # no commit in a test
        back = http.post(answer["Location"], {"payer_name": PAYER_NAME, "payer_account": PAYER_ACCOUNT})
    assert back.status_code == 302 and back["Location"] == f"/sections/{section.public_id}/deposit/"
    status = http.get(f"/sections/{section.public_id}/deposit/status/").content.decode()
    assert 'data-status="paid"' in status
    again = http.post(f"/api/v1/sections/{section.public_id}/deposit/pay/")
    assert again.status_code == 409 and again.json()["code"] == "DEP-ALREADY-PAID"


def test_reconciliation_report_and_csv_for_staff(client, staff, make_user, two):
    assert as_user(client, make_user(Role.SUPERVISOR)).get("/escrow/reconciliation/").status_code == 403
    from escrow.models import SimTransaction

    SimTransaction.objects.filter(virtual_account=two[0].virtual_account).delete()  # the provider lost one
    http = as_user(client, staff)
    assert http.post("/escrow/reconciliation/").status_code == 302
    page = http.get("/escrow/reconciliation/").content.decode()
    assert "账本有、对账单无" in page
    csv = http.get("/escrow/reconciliation/", {"download": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("day,provider,run,kind")
    assert two[0].virtual_account in text  # paid by notification only: missing at the provider
    assert PAYER_NAME not in text and PAYER_ACCOUNT not in text
    assert http.get("/api/v1/escrow/reconciliation/").json()[0]["differences"]


@override_settings(ESCROW_LOOKUPS_PER_DAY=3)
def test_SECRET_BIDDERS_staff_cannot_try_bidder_codes_until_some_answer(client, staff, section, two):
    """SECRET-BIDDERS: the code space is small (32^4), so an unbounded lookup by code would let a staff member
    try codes until the registered ones answer, and count them. Past a few lookups a day the answer is one
    refusal, the same for a code that exists and one that does not, and nothing more is recorded."""
    a, _b = two
    http = as_user(client, staff)
    url = f"/api/v1/sections/{section.public_id}/deposits/"
    for guess in ("B-2222", "B-3333", "B-4444"):
        assert http.get(url, {"code": guess}).json() == {"mode": "lookup", "results": []}
    refused = [http.get(url, {"code": code}) for code in (a.registration.bidder_code, "B-5555")]
    assert [r.status_code for r in refused] == [429, 429]
    assert refused[0].json() == refused[1].json() and refused[0].json()["code"] == "DEP-LOOKUP-LIMIT"
    page = http.get(f"/sections/{section.public_id}/deposits/", {"code": a.registration.bidder_code})
    assert page.status_code == 429 and a.virtual_account not in page.content.decode()
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_LOOKED_UP, actor=staff).count() == 3
    # the limit is the staff member's, over every section: spreading the guesses does not help
    other = SectionFactory(state=SectionState.PUBLISHED, published_at=timezone.now())
    assert http.get(f"/api/v1/sections/{other.public_id}/deposits/", {"code": "B-6666"}).status_code == 429
    # a day later the staff member looks up what bidders tell it again
    later = timezone.now() + timezone.timedelta(days=1, minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert http.get(url, {"code": a.registration.bidder_code}).json()["results"][0]["bidder"] == a.registration.bidder_code


def test_SECRET_BIDDERS_log_lines_name_no_section_of_a_sealed_alert(caplog, section, register):
    """SECRET-BIDDERS: operators (staff among them) read the logs; a same-payer alert logged with its section
    would tell them that at least two bidders registered and paid there before opening."""
    a, b = register(section).deposit, register(section).deposit
    with caplog.at_level("INFO"):
        pay(a, payer_account=PAYER_ACCOUNT)
        pay(b, payer_account=PAYER_ACCOUNT)
    logged = [r.getMessage() for r in caplog.records if "DEP-SAME-PAYER" in r.getMessage()]
    assert logged, "the alert is still logged"
    for line in logged:
        assert section.public_id not in line and a.registration.bidder_code not in line


def test_SECRET_BIDDERS_reconciliation_shows_no_count_of_a_day_with_sealed_deposits(client, staff, section, register):
    """SECRET-BIDDERS: the daily reconciliation's count of agreeing payments is the number of deposits paid that day;
    while one of them is of a section not yet opened, staff see the differences, not the count."""
    from escrow.services.reconciliation import reconciliation_run

    for n in range(3):
        pay(register(section).deposit, txn_id=f"REC-{n}")
    run = reconciliation_run(day=timezone.localdate())
    assert run.matched == 3  # stored, for after opening
    http = as_user(client, staff)
    api = http.get("/api/v1/escrow/reconciliation/").json()
    assert [r["matched"] for r in api] == [None]
    page = http.get("/escrow/reconciliation/").content.decode()
    assert "一致 3" not in page.replace("\n", " ")
    open_section(section)
    assert [r["matched"] for r in http.get("/api/v1/escrow/reconciliation/").json()] == [3]
