"""Report, candidates, publicity, objections, award, contract: CAND-MAX-3, CAND-PUBLICITY, AWARD-FIRST, CONTRACT-30D."""

import io
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from pypdf import PdfReader

from bidding.evaluation.models import Award, Candidate, ContractRecord, EvaluationReport, Publicity
from bidding.evaluation.services.award import (
    award_make,
    award_notice_verify,
    award_refuse,
    candidate_disqualify,
    contract_record,
    contracts_overdue,
    objection_answer,
    objection_raise,
    publicity_start,
    report_make,
    report_verify,
)
from bidding.evaluation.services.draw import draw_commit
from bidding.evaluation.services.scoring import scores_submit, valid_openings
from escrow.models import Deposit
from escrow.services.deposits import deposit_open
from tests.escrow.conftest import pay
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import opened_section
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import RuleViolation, TransitionError
from trading.models import Announcement, AnnouncementKind, Role, SectionState

pytestmark = pytest.mark.django_db

PRICES = [480_000_000, 452_000_000, 470_500_000, 441_300_000, 463_900_000]


@pytest.fixture
def section(db):
    section = opened_section(bids=5, prices=PRICES)
    for opening in valid_openings(section):
        pay(deposit_open(registration=opening.bid.registration), payer_account=f"62220202000{opening.pk:05d}")
    return section


@pytest.fixture
def reported(staff, scored):
    return report_make(actor=staff, draw=scored)


@pytest.fixture
def publicized(staff, reported):
    publicity_start(actor=staff, section=reported.section)
    return reported


def end_publicity(section):
    Publicity.objects.filter(section=section).update(ends_at=timezone.now() - timedelta(seconds=1))


def bidder_user(make_user, section, n=0):
    registration = section.registrations.order_by("pk")[n]
    return make_user(Role.BIDDER, organization=registration.organization)


def test_the_report_holds_every_score_and_signature_and_is_signed(reported, scored):
    document = reported.document
    assert report_verify(reported)
    assert len(document["submissions"]) == 5 and all(s["signature"] for s in document["submissions"])
    assert [m["seat"] for m in document["committee"]] == [1, 2, 3, 4, 5]
    assert document["draw"]["seed"] == scored.seed
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(reported.pdf.read())).pages)
    assert "评标报告" in text and document["submissions"][0]["signature"][:20] in text.replace("\n", "")
    scored.refresh_from_db()
    assert scored.status == "closed"


def test_CAND_MAX_3_at_most_three_ranked_candidates(reported):
    candidates = list(reported.candidates.all())
    assert [c.rank for c in candidates] == [1, 2, 3]
    assert len(reported.document["ranking"]) == 5
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses a fourth too
        Candidate.objects.create(report=reported, opening=candidates[0].opening, rank=4, price_fen=1)


def test_the_report_waits_for_every_score(staff, section, pool):
    draw = seat_all(staff, draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)]))
    with pytest.raises(TransitionError) as refused:
        report_make(actor=staff, draw=draw)
    assert refused.value.code == "EVAL-SCORES-OPEN" and not EvaluationReport.objects.exists()


def test_CAND_PUBLICITY_at_least_three_days_and_no_award_before_the_end(staff, reported, make_user):
    with pytest.raises(RuleViolation) as refused:
        publicity_start(actor=staff, section=reported.section, days=2)
    assert refused.value.code == "CAND-PUBLICITY" and not Publicity.objects.exists()
    publicity = publicity_start(actor=staff, section=reported.section)
    assert publicity.ends_at - publicity.starts_at == timedelta(days=3)
    announcement = Announcement.objects.get(kind=AnnouncementKind.CANDIDATES)
    winner = reported.candidates.get(rank=1).opening.bid.registration.organization.name
    assert winner in announcement.body
    tenderer = make_user(Role.TENDERER, organization=reported.section.project.tenderer)
    with pytest.raises(RuleViolation) as refused:
        award_make(actor=tenderer, section=reported.section)
    assert refused.value.code == "CAND-PUBLICITY" and not Award.objects.exists()


def test_CAND_PUBLICITY_an_unanswered_objection_pauses_the_award(publicized, make_user):
    section = publicized.section
    bidder = bidder_user(make_user, section)
    objection = objection_raise(user=bidder, section=section, text="第一名项目经理有在建工程")
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    with pytest.raises(RuleViolation) as refused:
        award_make(actor=tenderer, section=section)
    assert refused.value.code == "CAND-OBJECTION"
    with pytest.raises(RuleViolation):
        objection_raise(user=bidder, section=section, text="又一条")  # publicity over
    objection_answer(user=tenderer, objection=objection, answer="经核查，该项目经理无在建工程。")
    award = award_make(actor=tenderer, section=section)
    assert award.candidate.rank == 1


def test_AWARD_FIRST_the_first_ranked_wins_unless_disqualified(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    second = publicized.candidates.get(rank=2)
    with pytest.raises(RuleViolation) as refused:
        award_make(actor=tenderer, section=section, candidate=second)
    assert refused.value.code == "AWARD-FIRST" and not Award.objects.exists()
    with pytest.raises(RuleViolation):
        candidate_disqualify(actor=tenderer, candidate=publicized.candidates.get(rank=1), reason="")
    candidate_disqualify(actor=tenderer, candidate=publicized.candidates.get(rank=1), reason="放弃中标")
    award = award_make(actor=tenderer, section=section)
    assert award.candidate == second and award_notice_verify(award)
    section.refresh_from_db()
    assert section.state == SectionState.AWARDED
    result = Announcement.objects.get(kind=AnnouncementKind.RESULT)
    assert second.opening.bid.registration.organization.name in result.body
    # The statistics take the award amount from the award itself (savings rate).
    from trading.supervision.statistics import award_prices

    assert award_prices([section.pk]) == {section.pk: second.price_fen}


def test_CONTRACT_30D_recorded_and_every_deposit_refunded(publicized, make_user, django_capture_on_commit_callbacks):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    award = award_make(actor=tenderer, section=section)
    assert Deposit.objects.filter(registration__section=section, refunded_at__isnull=True).count() == 5
    with django_capture_on_commit_callbacks(execute=True):
        contract = contract_record(
            actor=tenderer,
            section=section,
            signed_on=timezone.localdate(award.awarded_at) + timedelta(days=10),
            amount_fen=award.candidate.price_fen,
        )
    assert contract.within_30_days
    section.refresh_from_db()
    assert section.state == SectionState.CONTRACTED
    deposits = Deposit.objects.filter(registration__section=section)
    assert all(d.refund_reason == "DEP-REFUND-5D" and d.refunded_fen == d.paid_fen for d in deposits)


def test_CONTRACT_30D_a_late_contract_is_marked_and_an_overdue_award_audited_once(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    award = award_make(actor=tenderer, section=section)
    Award.objects.filter(pk=award.pk).update(awarded_at=timezone.now() - timedelta(days=31))
    assert contracts_overdue() == 1 and contracts_overdue() == 0
    assert AuditEntry.objects.filter(event=AuditEvent.CONTRACT_OVERDUE).count() == 1
    contract = contract_record(actor=tenderer, section=section, signed_on=timezone.localdate(), amount_fen=1000)
    assert not contract.within_30_days
    assert ContractRecord.objects.count() == 1


def test_PERF_BOND_10PCT_a_bond_above_a_tenth_of_the_contract_is_refused_and_alerted(publicized, make_user):
    from trading.supervision.models import Alert

    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    award = award_make(actor=tenderer, section=section)
    signed_on = timezone.localdate(award.awarded_at)
    with pytest.raises(RuleViolation) as refused:
        contract_record(actor=tenderer, section=section, signed_on=signed_on, amount_fen=1_000_001, performance_bond_fen=100_001)
    assert refused.value.code == "PERF-BOND-10PCT" and refused.value.fields["most_fen"] == 100_000
    section.refresh_from_db()
    assert section.state == SectionState.AWARDED and not ContractRecord.objects.exists()  # nothing recorded
    alert = Alert.objects.get(rule="PERF-BOND-10PCT")
    assert alert.blocked and alert.section_id == section.pk
    # Exactly a tenth (in fen, rounded down) is allowed, and the bond is in the audit chain.
    contract = contract_record(
        actor=tenderer, section=section, signed_on=signed_on, amount_fen=1_000_001, performance_bond_fen=100_000
    )
    assert contract.performance_bond_fen == 100_000
    entry = AuditEntry.objects.get(event=AuditEvent.CONTRACT_RECORDED)
    assert entry.data["performance_bond_fen"] == 100_000


def test_PERF_BOND_10PCT_the_database_refuses_a_bond_above_a_tenth_written_past_the_service(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    award = award_make(actor=tenderer, section=section)
    fields = {
        "section": section,
        "award": award,
        "signed_on": timezone.localdate(),
        "within_30_days": True,
        "recorded_by": tenderer,
    }
    for bond in (1001, -1):
        with pytest.raises(IntegrityError), transaction.atomic():
            ContractRecord.objects.create(amount_fen=10_000, performance_bond_fen=bond, **fields)
    assert ContractRecord.objects.create(amount_fen=10_000, performance_bond_fen=1000, **fields).pk


def test_DEP_FORFEIT_REFUSE_a_winner_that_refuses_to_sign_loses_its_deposit_and_the_next_candidate_is_awarded(
    publicized, make_user, django_capture_on_commit_callbacks
):
    from escrow import ledger
    from escrow.services.deposits import deposit_forfeit

    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    first = award_make(actor=tenderer, section=section)
    winner = first.candidate.opening.bid.registration
    other = section.registrations.exclude(pk=winner.pk).first()
    with pytest.raises(RuleViolation) as refused:  # only the winner that refused loses its deposit this way
        deposit_forfeit(deposit=other.deposit, reason="DEP-FORFEIT-REFUSE")
    assert refused.value.code == "DEP-FORFEIT-REFUSE"

    award_refuse(actor=tenderer, section=section, reason="中标人书面放弃中标")
    section.refresh_from_db()
    assert section.state == SectionState.PUBLICIZING
    first.refresh_from_db()
    assert first.refused_at is not None
    deposit = Deposit.objects.get(registration=winner)
    assert deposit.forfeit_reason == "DEP-FORFEIT-REFUSE" and deposit.forfeited_fen == deposit.paid_fen
    assert ledger.balance(ledger.FORFEITED) == -deposit.paid_fen
    notice = Announcement.objects.get(section=section, title__contains="放弃中标")
    assert winner.organization.name in notice.body and first.notice["number"] in notice.body
    assert AuditEntry.objects.filter(event=AuditEvent.AWARD_REFUSED).count() == 1

    # AWARD-FIRST: the next candidate still standing, with a notice of its own.
    second = award_make(actor=tenderer, section=section)
    assert second.candidate.rank == 2 and second.notice["number"] == first.notice["number"] + "-2"
    assert award_notice_verify(second)
    with django_capture_on_commit_callbacks(execute=True):
        contract_record(actor=tenderer, section=section, signed_on=timezone.localdate(), amount_fen=second.candidate.price_fen)
    deposit.refresh_from_db()
    assert deposit.refunded_at is None  # kept, not refunded with the others
    assert Deposit.objects.filter(registration__section=section, refunded_at__isnull=True).count() == 1


def test_DEP_FORFEIT_REFUSE_open_data_shows_the_refused_award_cancelled_and_the_next_one_active(publicized, make_user):
    from tests.supervision.test_opendata import errors_of
    from trading.supervision import opendata

    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    first = award_make(actor=tenderer, section=section)
    award_refuse(actor=tenderer, section=section, reason="中标人书面放弃中标")
    between = opendata.section_releases(section)[-1]  # refused, the next not yet awarded
    assert [(a["id"], a["status"]) for a in between["awards"]] == [(f"{section.public_id}-award", "cancelled")]
    assert between["tag"] == ["awardUpdate"]
    second = award_make(actor=tenderer, section=section)
    contract_record(actor=tenderer, section=section, signed_on=timezone.localdate(), amount_fen=second.candidate.price_fen)

    releases = opendata.section_releases(section)
    for release in releases:
        assert errors_of(release) == [], release["id"]
    assert [r["date"] for r in releases] == sorted(r["date"] for r in releases)
    assert len({r["id"] for r in releases}) == len(releases)
    last = opendata.compiled_release(releases)
    names = [(a["id"], a["status"], a["suppliers"][0]["name"], a["value"]["amount"]) for a in last["awards"]]
    organization = lambda award: award.candidate.opening.bid.registration.organization.name  # noqa: E731
    assert names == [
        (f"{section.public_id}-award", "cancelled", organization(first), first.candidate.price_fen / 100),
        (f"{section.public_id}-award-2", "active", organization(second), second.candidate.price_fen / 100),
    ]
    assert last["contracts"][0]["awardID"] == f"{section.public_id}-award-2"
    suppliers = {p["name"] for p in last["parties"] if "supplier" in p["roles"]}
    assert suppliers == {organization(first), organization(second)}


def test_DEP_FORFEIT_REFUSE_with_no_candidate_left_the_section_fails(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    for rank in (1, 2, 3):
        assert award_make(actor=tenderer, section=section).candidate.rank == rank
        award_refuse(actor=tenderer, section=section, reason="拒签合同")
    section.refresh_from_db()
    assert section.state == SectionState.FAILED
    assert Award.objects.filter(section=section, refused_at__isnull=True).count() == 0
    from trading.supervision import opendata

    failed = opendata.section_releases(section)[-1]  # open data: the section failed, its three awards cancelled
    assert failed["tender"]["status"] == "unsuccessful"
    assert [a["status"] for a in failed["awards"]] == ["cancelled"] * 3
    with pytest.raises(TransitionError):
        award_make(actor=tenderer, section=section)


def test_DEP_FORFEIT_REFUSE_one_standing_award_per_section_in_the_database(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    award = award_make(actor=tenderer, section=section)
    second = Candidate.objects.get(report__section=section, rank=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Award.objects.create(
            section=section,
            candidate=second,
            notice={},
            signature="x",
            announcement=award.announcement,
            awarded_by=tenderer,
            awarded_at=timezone.now(),
        )
    with pytest.raises(RuleViolation):  # a reason is required
        award_refuse(actor=tenderer, section=section, reason=" ")
    for user in (make_user(Role.TENDERER), bidder_user(make_user, section)):
        with pytest.raises(Exception) as refused:
            award_refuse(actor=user, section=section, reason="x")
        assert refused.value.code == "NOT-ALLOWED"


def test_only_the_tenderers_side_or_staff_award(publicized, make_user):
    section = publicized.section
    end_publicity(section)
    for user in (make_user(Role.TENDERER), bidder_user(make_user, section), make_user(Role.SUPERVISOR)):
        with pytest.raises(Exception) as refused:
            award_make(actor=user, section=section)
        assert refused.value.code == "NOT-ALLOWED"
    assert not Award.objects.exists()


def test_EVAL_REJECT_every_bid_rejected_fails_the_section(staff, section, pool):
    from bidding.evaluation.services.award import evaluation_fail

    draw = seat_all(staff, draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)]))
    openings = valid_openings(section)
    users = [m.expert.user for m in draw.members.filter(status="accepted").select_related("expert__user")]
    for user in users[:4]:
        rejections = {str(o.pk): {"code": "not-responsive", "reason": "未响应实质性要求"} for o in openings}
        scores_submit(user=user, draw=draw, scores={}, rejections=rejections)
    with pytest.raises(TransitionError):
        evaluation_fail(actor=staff, draw=draw)
    keep = {str(o.pk): {"technical": 30, "schedule": 8, "commercial": 8} for o in openings}
    scores_submit(user=users[4], draw=draw, scores=keep, rejections={})
    with pytest.raises(RuleViolation):
        report_make(actor=staff, draw=draw)
    evaluation_fail(actor=staff, draw=draw)
    section.refresh_from_db()
    assert section.state == SectionState.FAILED
    assert Announcement.objects.filter(section=section, kind=AnnouncementKind.FAILURE).exists()
    assert not EvaluationReport.objects.exists()


def test_the_candidates_notice_is_written_in_the_language_of_the_record_whoever_works_in_english(staff, scored):
    """A public notice is one text (CAND-PUBLICITY): staff whose screens are in English still publish it in Chinese,
    the platform's official language (trading.i18n); a refusal is still worded for its reader."""
    from django.utils import translation

    with translation.override("en"):
        report = report_make(actor=staff, draw=scored)
        publicity_start(actor=staff, section=report.section)
        with pytest.raises(RuleViolation) as refused:
            publicity_start(actor=staff, section=report.section, days=2)
    assert "公示" not in refused.value.message
    notice = Announcement.objects.get(section=report.section, kind=AnnouncementKind.CANDIDATES)
    assert notice.title.endswith("中标候选人公示") and "第1名" in notice.body and "公示期" in notice.body
    assert "candidate" not in (notice.title + notice.body).lower()
