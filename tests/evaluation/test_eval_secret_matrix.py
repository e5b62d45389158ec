"""EVAL-SECRET in the firewall matrix: every route, as every role, GET and POST; the drawn experts'
names, employers and contacts leak to nobody before the session starts, and after it only the
officials (and the committee itself) see them until the results are out."""

import pytest
from django.test import Client

from bidding.evaluation.services.draw import draw_commit, draw_make, member_respond, session_start
from tests.evaluation.factories import ExpertFactory, SpecialtyFactory
from tests.factories import OrganizationFactory
from tests.trading.test_firewall_matrix import ROLES, _text, build_world, client_for, fill, routes
from trading.models import OrganizationKind, Role

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

OFFICIALS = {Role.STAFF, Role.SUPERVISOR}


def drawn_world(make_user, staff):
    world = build_world(make_user)
    section = world.sections["opened"]
    a01 = SpecialtyFactory(code="A01")
    for n in range(9):
        employer = OrganizationFactory(kind=OrganizationKind.EXPERT_EMPLOYER, name=f"专家单位秘{n:02d}")
        ExpertFactory(name=f"秘密专家{n:02d}", employer=employer, phone=f"1390000{n:04d}", specialties=[a01])
    draw = draw_make(actor=staff, draw=draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 5)]))
    members = list(draw.members.select_related("expert__employer", "expert__user"))
    secrets = [s for m in members for s in (m.expert.name, m.expert.employer.name, m.expert.phone)]
    return world, section, draw, members, secrets


def pool_names() -> list[str]:
    return [f"秘密专家{n:02d}" for n in range(9)]


def scan(viewer, section, world, secrets) -> int:
    http = client_for(Client, viewer)
    checked = 0
    for route, name in routes():
        if name in ("set_language", "logout"):
            continue
        doc_pk, ann_pk = section.documents.first().pk, section.announcements.first().pk
        for path in fill(route, section, doc_pk, ann_pk):
            for method in ("get", "post"):
                body = _text(getattr(http, method)(path, follow=False))
                checked += 1
                if name == "evaluation-experts":
                    # The pool list (staff) names everyone in the pool alike: it must not tell who was drawn.
                    shown = {n for n in pool_names() if n in body}
                    assert shown in (set(), set(pool_names())), f"the pool page singles out {shown}"
                    assert section.public_id not in body
                    continue
                for secret in secrets:
                    assert secret not in body, f"{secret!r} leaked at {method.upper()} {path}"
    return checked


@pytest.mark.parametrize("role", ROLES)
def test_EVAL_SECRET_drawn_names_reach_nobody_before_the_session(role, make_user, staff):
    world, section, _draw, _members, secrets = drawn_world(make_user, staff)
    assert scan(world.users[role], section, world, secrets) > 50


@pytest.mark.parametrize("role", [r for r in ROLES if r not in OFFICIALS])
def test_EVAL_SECRET_in_session_names_reach_only_officials_and_the_committee(role, make_user, staff):
    world, section, draw, members, secrets = drawn_world(make_user, staff)
    for member in members:
        member_respond(user=member.expert.user, member=member, accept=True)
    session_start(actor=staff, draw=draw)
    assert scan(world.users[role], section, world, secrets) > 50


def test_EVAL_SECRET_officials_see_the_names_once_the_session_starts(make_user, staff):
    world, section, draw, members, _secrets = drawn_world(make_user, staff)
    for member in members:
        member_respond(user=member.expert.user, member=member, accept=True)
    session_start(actor=staff, draw=draw)
    body = _text(client_for(Client, world.users[Role.SUPERVISOR]).get(f"/sections/{section.public_id}/draw/record/"))
    assert all(m.expert.name in body for m in members)


def test_EVAL_SECRET_during_publicity_the_names_reach_the_tenderer_not_the_public_until_the_award(make_user, staff):
    """EVAL-SECRET (Law 37: the committee's names are secret until the award is decided): during the candidates'
    publicity the tenderer has the signed report with its names (Law 40); the public and the bidders get them
    only once the award is decided."""
    from trading.models import Section, SectionState

    world, section, draw, members, _secrets = drawn_world(make_user, staff)
    for member in members:
        member_respond(user=member.expert.user, member=member, accept=True)
    session_start(actor=staff, draw=draw)
    path = f"/sections/{section.public_id}/draw/record/"
    viewers = {role: client_for(Client, world.users[role]) for role in (Role.TENDERER, "bidder_a", "anonymous")}

    def named(viewer) -> bool:
        body = _text(viewer.get(path))
        return any(m.expert.name in body for m in members)

    Section.objects.filter(pk=section.pk).update(state=SectionState.PUBLICIZING)
    assert named(viewers[Role.TENDERER])
    assert not named(viewers["bidder_a"]) and not named(viewers["anonymous"])
    Section.objects.filter(pk=section.pk).update(state=SectionState.AWARDED)
    assert named(viewers["bidder_a"]) and named(viewers["anonymous"])
