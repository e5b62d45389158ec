"""The policy's stream functions on their own: who may watch, what each viewer sees of an event."""

import pytest
from django.contrib.auth.models import AnonymousUser
from hypothesis import given, settings
from hypothesis import strategies as st

from trading import policy
from trading.models import Role

codes = st.sampled_from(["B-1", "B-2", "B-3", "B-4"])


@settings(deadline=None)  # the first example pays for imports
@given(
    sealed=st.dictionaries(codes, st.fixed_dictionaries({"name": st.text(min_size=1, max_size=5)})),
    public=st.sets(codes),
    own=st.frozensets(codes),
)
def test_the_view_shows_exactly_the_entries_public_or_own(sealed, public, own):
    event = {"seq": 1, "kind": "k", "at": "t", "payload": {"x": 1}, "sealed": sealed, "public": sorted(public)}

    view = policy.stream_event_view(event, own_codes=own)

    shown = set(view.get("bidders", {}))
    assert shown == {code for code in sealed if code in public or code in own}
    assert "sealed" not in view and "public" not in view
    assert view["payload"] == {"x": 1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "feed"),
    [
        (None, False),
        (Role.PUBLIC, False),
        (Role.BIDDER, False),
        (Role.TENDERER, False),
        (Role.STAFF, False),
        (Role.SUPERVISOR, True),
    ],
)
def test_who_may_watch_which_stream(make_user, supervision, opening, role, feed):
    user = AnonymousUser() if role is None else make_user(role)

    assert policy.can_watch_stream(user, supervision) is feed
    assert policy.can_watch_stream(user, opening) is True
