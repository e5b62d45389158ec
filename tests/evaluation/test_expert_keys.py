"""Experts sign their own scores: a key of their own, the statement signed, the platform unable to forge it."""

import hashlib
import json
import re

import pytest
from django.test import Client, override_settings

from bidding import envelope
from bidding.evaluation.models import ScoreSubmission
from bidding.evaluation.services.award import report_make
from bidding.evaluation.services.expert_keys import expert_key_register, statement_sign
from bidding.evaluation.services.scoring import (
    scores_statement,
    scores_submit,
    submission_document,
    submission_message,
    submission_verify,
    valid_openings,
)
from tests.conftest import signed_in
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import opened_section
from trading import signing
from trading.audit.events import AuditEvent
from trading.audit.log import canonical_json
from trading.audit.models import AuditEntry
from trading.errors import RuleViolation

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(staff, committed):
    return seat_all(staff, committed)


@pytest.fixture
def section(db):
    return opened_section(bids=3, prices=[400_000_000, 450_000_000, 500_000_000])


def sitting(draw):
    return [m.expert.user for m in draw.members.filter(status="accepted").select_related("expert__user").order_by("seat")]


def scores(section, technical=30):
    return {str(o.pk): {"technical": technical, "schedule": 8, "commercial": 8} for o in valid_openings(section)}


def with_key(user):
    key = envelope.generate_key()
    expert_key_register(user=user, public_key=envelope.public_key_text(key.public_key()))
    return key


def test_a_signed_submission_verifies_and_a_platform_forgery_does_not(session):
    user = sitting(session)[0]
    key = with_key(user)
    statement = scores_statement(user=user, draw=session, scores=scores(session.section), rejections={})
    submission = scores_submit(
        user=user, draw=session, scores=scores(session.section), rejections={}, expert_signature=statement_sign(key, statement)
    )
    assert submission.expert_key == envelope.public_key_text(key.public_key()) and submission_verify(submission)
    assert AuditEntry.objects.get(event=AuditEvent.SCORES_SUBMITTED).data["expert_signed"] is True
    # Whoever runs the platform can re-sign a changed row with the platform key, but not with the expert's.
    changed = {**submission.scores, next(iter(submission.scores)): {"technical": "40", "schedule": "8", "commercial": "8"}}
    ScoreSubmission.objects.filter(pk=submission.pk).update(scores=changed)
    forged = ScoreSubmission.objects.get(pk=submission.pk)
    canonical = canonical_json(submission_document(forged))
    forged.canonical_sha256 = hashlib.sha256(canonical).hexdigest()
    forged.signature = signing.sign(submission_message(canonical))
    assert not submission_verify(forged)


def test_EVAL_SIGNATURE_once_an_expert_has_a_key_its_signature_is_required_and_checked(session):
    user, other = sitting(session)[:2]
    key = with_key(user)
    statement = scores_statement(user=user, draw=session, scores=scores(session.section), rejections={})
    for signature in ("", statement_sign(envelope.generate_key(), statement), statement_sign(key, statement + b" ")):
        with pytest.raises(RuleViolation) as refused:
            scores_submit(user=user, draw=session, scores=scores(session.section), rejections={}, expert_signature=signature)
        assert refused.value.code == "EVAL-SIGNATURE"
    with pytest.raises(RuleViolation):  # signed for other scores than those submitted
        scores_submit(
            user=user,
            draw=session,
            scores=scores(session.section, technical=35),
            rejections={},
            expert_signature=statement_sign(key, statement),
        )
    assert not ScoreSubmission.objects.exists()
    # An expert with no key yet: accepted unsigned unless the setting requires keys (production does).
    with override_settings(EVALUATION_EXPERT_SIGNATURES_REQUIRED=True), pytest.raises(RuleViolation) as refused:
        scores_submit(user=other, draw=session, scores=scores(session.section), rejections={})
    assert refused.value.code == "EVAL-SIGNATURE"
    assert scores_submit(user=other, draw=session, scores=scores(session.section), rejections={}).expert_signature == ""


def test_the_report_carries_each_experts_signature_and_key(staff, session):
    for user in sitting(session):
        key = with_key(user)
        statement = scores_statement(user=user, draw=session, scores=scores(session.section), rejections={})
        scores_submit(
            user=user,
            draw=session,
            scores=scores(session.section),
            rejections={},
            expert_signature=statement_sign(key, statement),
        )
    report = report_make(actor=staff, draw=session)
    rows = report.document["submissions"]
    assert rows and all(row["expert_signature"] and row["expert_key"] for row in rows)
    page = signed_in(Client(), staff).get(f"/sections/{session.section.public_id}/evaluation-report/").content.decode()
    assert all(row["expert_signature"] in page for row in rows)


def test_the_key_is_registered_by_the_expert_only_and_audited(session, make_user):
    user = sitting(session)[0]
    client = signed_in(Client(), user)
    public = envelope.public_key_text(envelope.generate_key().public_key())
    assert client.post("/api/v1/expert/signing-key/", {"signing_public_key": "not-a-key"}, "application/json").status_code == 400
    answer = client.post("/api/v1/expert/signing-key/", {"signing_public_key": public}, "application/json")
    assert answer.status_code == 200 and answer.json()["signing_public_key"] == public
    outsider = signed_in(Client(), make_user("bidder"))
    assert outsider.post("/api/v1/expert/signing-key/", {"signing_public_key": public}, "application/json").status_code == 403
    entry = AuditEntry.objects.get(event=AuditEvent.EXPERT_KEY_REGISTERED)
    assert entry.data["fingerprint"] == envelope.public_key_fingerprint(envelope.load_public_key(public))
    assert entry.data["replaced"] is False


def test_the_statement_api_answers_what_the_submit_api_accepts(session):
    user = sitting(session)[0]
    key = with_key(user)
    client = signed_in(Client(), user)
    body = {"scores": scores(session.section), "rejections": {}, "dissent": " 无 "}
    url = f"/api/v1/sections/{session.section.public_id}/scores/"
    answer = client.post(url + "statement/", body, "application/json").json()
    assert not ScoreSubmission.objects.exists()
    signature = statement_sign(key, answer["statement"].encode())
    assert answer["label"] == "sunlight-expert-scores/v1|"
    submitted = client.post(url, {**body, "expert_signature": signature}, "application/json")
    assert submitted.status_code == 201, submitted.content
    assert submitted.json()["expert_signature"] == signature
    assert submission_verify(ScoreSubmission.objects.get())


def test_the_scoring_pages_script_speaks_the_pages_language(session):
    client = signed_in(Client(), sitting(session)[0])
    url = f"/expert/sections/{session.section.public_id}/"
    for language, expected in (("zh-hans", "签名密钥保存在本浏览器"), ("en", "Your signing key")):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        texts = json.loads(re.search(r'<script id="scoring-text" type="application/json">(.*?)</script>', page)[1])
        assert texts["kept"].startswith(expected)
