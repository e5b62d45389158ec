"""A drawn expert is told of its invitation by mail, to itself alone and once (EVAL-SECRET)."""

import logging

import pytest
from django.core import mail

from bidding.evaluation.services.draw import draw_make, member_replace, member_respond
from bidding.evaluation.services.invitations import invitation_send
from tests.evaluation.conftest import seat_all

pytestmark = pytest.mark.django_db


def test_EVAL_SECRET_each_drawn_expert_gets_its_own_invitation_once(staff, committed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        draw = draw_make(actor=staff, draw=committed)
    members = list(draw.members.select_related("expert"))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.expert.email for m in members)
    assert all(len(message.to) == 1 and not message.cc and not message.bcc for message in mail.outbox)
    section = draw.section
    for message in mail.outbox:
        member = next(m for m in members if m.expert.email == message.to[0])
        assert message.subject == f"评标邀请：{section.public_id}"
        assert f"席位 {member.seat}" in message.body and member.expert.name in message.body
        assert "http://127.0.0.1:8000/expert/" in message.body
        # Nobody else's name or address: the invitation tells the expert nothing of the committee.
        assert not any(other.expert.name in message.body for other in members if other.pk != member.pk)
    assert all(m.notified_at for m in draw.members.all())
    assert invitation_send(member_id=members[0].pk) is False  # a task run twice sends nothing more
    assert len(mail.outbox) == 5


def test_a_replacement_is_invited_and_an_answered_seat_is_not(staff, committed, django_capture_on_commit_callbacks):
    draw = draw_make(actor=staff, draw=committed)  # callbacks not run: nobody mailed yet
    declining = draw.members.select_related("expert__user").get(seat=1)
    member_respond(user=declining.expert.user, member=declining, accept=False, reason="出差")
    assert invitation_send(member_id=declining.pk) is False and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        draw = seat_all(staff, draw)
        replacement = member_replace(actor=staff, member=draw.members.get(seat=2), reason="health")
    assert [m.to for m in mail.outbox] == [[replacement.expert.email]]


def test_an_expert_without_an_address_is_logged_by_seat_not_by_name(staff, committed, caplog):
    draw = draw_make(actor=staff, draw=committed)
    member = draw.members.select_related("expert").get(seat=3)
    member.expert.email = ""
    member.expert.save()
    with caplog.at_level(logging.INFO, logger="evaluation.invitations"):
        assert invitation_send(member_id=member.pk) is False
    assert f"member #{member.pk}" in caplog.text and member.expert.name not in caplog.text
    assert mail.outbox == []
