"""EVAL-CONFLICT over random pools (hypothesis): whatever the pool, the quotas and the declines, no
conflicted, inactive or unavailable expert is ever drawn, and a remote draw never takes a local one."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding.evaluation.models import Expert, ServiceRecord
from bidding.evaluation.services.draw import draw_commit, draw_make, expert_conflicts, member_respond
from tests.evaluation.factories import ExpertFactory, SpecialtyFactory, opened_section
from tests.factories import OrganizationFactory
from trading.errors import RuleViolation
from trading.models import OrganizationKind

pytestmark = pytest.mark.django_db

CONFLICTED = ["tenderer", "agency", "bidder0", "bidder1", "bidder2", "bidder_sub"]
NEUTRAL = ["neutral0", "neutral1", "neutral2"]
# Two thirds of the pool work somewhere neutral, so many examples get as far as a full committee.
expert_st = st.fixed_dictionaries(
    {
        "employer": st.sampled_from(CONFLICTED) | st.sampled_from(NEUTRAL) | st.sampled_from(NEUTRAL),
        "specialties": st.sets(st.sampled_from(["A01", "A02", "A03"]), min_size=1),
        "region": st.sampled_from(["上城区", "西湖区", "余杭区"]),
        "status": st.sampled_from(["active"] * 6 + ["suspended", "retired"]),
        "available": st.sampled_from([True] * 6 + [False]),
        "away": st.sampled_from([False] * 6 + [True]),
        "served": st.sampled_from([None, None, None, 10, 400]),  # days ago the expert last served this tenderer
    }
)


@pytest.mark.slow
def test_EVAL_CONFLICT_a_conflicted_expert_is_never_drawn(staff):
    drawn: list[int] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        experts=st.lists(expert_st, min_size=10, max_size=40),
        quotas=st.sampled_from([[("A01", 5)], [("A01", 3), ("A02", 2)], [("A02", 2), ("A03", 3), ("A01", 2)]]),
        remote=st.booleans(),
        declines=st.lists(st.integers(min_value=1, max_value=7), max_size=4),
    )
    def one_pool(experts, quotas, remote, declines):
        with transaction.atomic():
            drawn.append(_one_pool(staff, experts, quotas, remote, declines))
            transaction.set_rollback(True)

    one_pool()
    # The property is exercised on real committees: the clean core makes every pool deep enough.
    assert all(n >= 5 for n in drawn), sorted(drawn)


def _one_pool(staff, experts, quotas, remote, declines):
    section = opened_section(bids=3)
    project = section.project
    project.agency = OrganizationFactory(kind=OrganizationKind.AGENCY)
    project.save()
    bidders = [r.organization for r in section.registrations.all()]
    orgs = {"tenderer": project.tenderer, "agency": project.agency, **{f"bidder{i}": org for i, org in enumerate(bidders)}}
    orgs["bidder_sub"] = OrganizationFactory(controlled_by=bidders[0])
    for n in range(3):
        orgs[f"neutral{n}"] = OrganizationFactory(kind=OrganizationKind.EXPERT_EMPLOYER)
    catalogue = {code: SpecialtyFactory(code=code) for code in ("A01", "A02", "A03")}
    earlier = opened_section(bids=3, project=project)
    now = timezone.now()
    for code in catalogue:  # a clean core, so every draw can fill its seats after any declines
        for _ in range(8):
            ExpertFactory(employer=orgs["neutral0"], specialties=[catalogue[code]], region="余杭区")
    for spec in experts:
        expert = ExpertFactory(
            employer=orgs[spec["employer"]],
            specialties=[catalogue[c] for c in spec["specialties"]],
            region=spec["region"],
            status=spec["status"],
            available=spec["available"],
            unavailable_until=(now + timedelta(days=3)).date() if spec["away"] else None,
        )
        if spec["served"] is not None:
            ServiceRecord.objects.create(
                expert=expert, tenderer=project.tenderer, section=earlier, served_at=now - timedelta(days=spec["served"])
            )
    draw = draw_commit(actor=staff, section=section, size=sum(c for _s, c in quotas), quotas=quotas, remote=remote)
    try:
        draw = draw_make(actor=staff, draw=draw)
        for seat in declines:
            member = draw.members.filter(seat=seat, status="invited").select_related("expert__user").first()
            if member:
                member_respond(user=member.expert.user, member=member, accept=False, reason="不便")
    except RuleViolation as short:
        assert short.code == "EVAL-POOL-SHORT"
    drawn = Expert.objects.filter(seats__draw=draw)
    for expert in drawn:
        assert expert_conflicts(expert=expert, section=section) == [], expert.employer
        assert expert.status == "active" and expert.available and expert.unavailable_until is None
        if remote:
            assert expert.region != project.region
    for member in draw.members.select_related("expert"):
        assert member.specialty in set(member.expert.specialties.values_list("code", flat=True))
    return drawn.count()
