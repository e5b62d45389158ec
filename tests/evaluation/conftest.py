import pytest

from bidding.evaluation.services.draw import draw_commit, draw_make, member_respond, session_start
from bidding.evaluation.services.scoring import scores_submit, valid_openings
from tests.evaluation.factories import ExpertFactory, SpecialtyFactory, opened_section


@pytest.fixture
def specialties(db):
    return [SpecialtyFactory(code="A01", name="房屋建筑"), SpecialtyFactory(code="A02", name="工程造价")]


@pytest.fixture
def section(db):
    return opened_section(bids=3)


@pytest.fixture
def pool(specialties):
    """Twelve experts of each specialty, employed elsewhere, some from another region."""
    a01, a02 = specialties
    experts = []
    for n in range(12):
        experts.append(ExpertFactory(specialties=[a01], region="西湖区" if n % 3 else "上城区"))
        experts.append(ExpertFactory(specialties=[a02], region="西湖区" if n % 3 else "上城区"))
    return experts


@pytest.fixture
def committed(staff, section, pool):
    return draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)])


@pytest.fixture
def tight(staff, section, specialties):
    """A pool with exactly the experts the quotas need: the first decline of a seat leaves nobody to redraw."""
    a01, a02 = specialties
    for _ in range(3):
        ExpertFactory(specialties=[a01])
    for _ in range(2):
        ExpertFactory(specialties=[a02])
    return draw_make(actor=staff, draw=draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)]))


def seat_all(staff, draw):
    """Every invited expert accepts, and the session starts."""
    draw = draw_make(actor=staff, draw=draw) if draw.status == "committed" else draw
    for member in draw.members.filter(status="invited").select_related("expert__user"):
        member_respond(user=member.expert.user, member=member, accept=True)
    return session_start(actor=staff, draw=draw)


@pytest.fixture
def scored(staff, committed):
    """The committee seated and every member's scores in (one dissent noted)."""
    draw = seat_all(staff, committed)
    openings = valid_openings(draw.section)
    for member in draw.members.filter(status="accepted").select_related("expert__user"):
        scores = {str(o.pk): {"technical": 30 + n, "schedule": 8, "commercial": 8} for n, o in enumerate(openings)}
        scores_submit(user=member.expert.user, draw=draw, scores=scores, rejections={}, dissent="无" if member.seat == 1 else "")
    return draw
