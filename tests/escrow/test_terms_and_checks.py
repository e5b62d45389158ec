"""Deposit terms over the API, and the simulated provider gone once another provider is configured."""

from datetime import timedelta

import pytest

from escrow.gateways import provider
from tests.conftest import signed_in
from tests.escrow.conftest import signed
from tests.factories import SectionFactory
from trading.models import Role

pytestmark = pytest.mark.django_db


def test_DEP_BEFORE_DEADLINE_cutoff_set_by_the_tenderer_while_drafting_and_public_after(client, make_user):
    draft = SectionFactory()
    tenderer = make_user(Role.TENDERER, organization=draft.project.tenderer)
    url = f"/api/v1/sections/{draft.public_id}/deposit-terms/"
    cutoff = draft.bid_deadline - timedelta(days=1)
    answer = signed_in(client, tenderer).post(url, {"cutoff_at": cutoff.isoformat()}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["amount_fen"] == draft.deposit_fen
    late = client.post(url, {"cutoff_at": (draft.bid_deadline + timedelta(days=1)).isoformat()}, content_type="application/json")
    assert late.status_code == 422 and late.json()["code"] == "DEP-BEFORE-DEADLINE"
    other = signed_in(client.__class__(), make_user(Role.TENDERER)).post(url, {"cutoff_at": cutoff.isoformat()})
    assert other.status_code == 404  # another tenderer's draft does not exist for it


def test_the_simulated_provider_is_gone_when_another_is_configured(client, settings, deposit):
    order = provider("sim").payment_create(virtual_account=deposit.virtual_account, amount_fen=1, return_url="/")
    assert client.get(order.pay_url).status_code == 200
    settings.ESCROW_PROVIDER = "bank"
    assert client.get(order.pay_url).status_code == 404
    body, _signature = signed(deposit)
    assert client.post("/api/v1/escrow/notifications/sim/", body, content_type="application/json").status_code == 404
