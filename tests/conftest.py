import os

import pytest
from django.db import connection
from django.utils import translation
from rest_framework.test import APIClient

from bidding.services import registration_create
from tests.factories import OrganizationFactory, SectionFactory, UserFactory
from trading.models import OrganizationKind, Role
from trading.services.sections import section_publish

REQUIRE_SERVICES = os.environ.get("SUNLIGHT_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres/redis skip on the embedded default, but CI must run every one."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    if REQUIRE_SERVICES and not (on_postgres and has_redis):
        raise pytest.UsageError("SUNLIGHT_REQUIRE_SERVICES=1 but DATABASE_URL/REDIS_URL do not name PostgreSQL and Redis")
    # Playwright's sync API keeps an event loop running in this thread for the rest of the
    # session, which async tests cannot share: run the browser tests last. The long tests go first,
    # so that the xdist workers (fed one test at a time, --maxschedchunk 1) share them out.
    items.sort(key=lambda item: ("browser" in item.keywords, "slow" not in item.keywords))
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skipif(not on_postgres, reason="needs PostgreSQL (DATABASE_URL); runs in CI"))
        if "redis" in item.keywords:
            item.add_marker(pytest.mark.skipif(not has_redis, reason="needs Redis (REDIS_URL); runs in CI"))


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _default_language():
    # A test client request in English leaves English active in this thread (LocaleMiddleware activates it
    # and nothing resets it): the next test would read English messages from the services it calls.
    yield
    translation.deactivate()


@pytest.fixture
def api():
    return APIClient()


ROLE_ORG_KIND = {
    Role.TENDERER: OrganizationKind.TENDERER,
    Role.AGENCY: OrganizationKind.AGENCY,
    Role.BIDDER: OrganizationKind.BIDDER,
    Role.STAFF: OrganizationKind.EXCHANGE,
    Role.SUPERVISOR: OrganizationKind.SUPERVISOR,
    Role.EXPERT: OrganizationKind.EXPERT_EMPLOYER,
}


@pytest.fixture
def make_user(db):
    def make(role: str, organization=None, **kwargs):
        if organization is None and role in ROLE_ORG_KIND:
            organization = OrganizationFactory(kind=ROLE_ORG_KIND[role])
        return UserFactory(role=role, organization=organization, **kwargs)

    return make


@pytest.fixture
def staff(make_user):
    return make_user(Role.STAFF)


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR)


def signed_in(client, user):
    """Force a session that passed both factors, as the sign-in pages would leave it."""
    client.force_login(user)
    if user.needs_second_factor:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, confirmed=True
        )
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def section(staff):
    """A published section (escrow, supervision; other suites define their own)."""
    return section_publish(actor=staff, section=SectionFactory())


@pytest.fixture
def register(make_user):
    """Registers a new bidder on a section; returns the registration."""

    def make(section):
        bidder = make_user(Role.BIDDER)
        return registration_create(actor=bidder, section=section, contact_name="李四", contact_phone="13900000000")

    return make


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


# Browser tests, wherever they live: one Chromium (Debian's) for the whole session.
@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop; Django's async-safety check must not object to our ORM calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
