"""In Chromium, from the draw to the award notice: staff commit and draw, one expert declines and its
seat is redrawn, five experts accept, score and sign, one of them leaves and is replaced (Regs 48) by
an expert who scores anew, the report is produced, the candidates are publicized, the tenderer
awards, and the public sees the winner."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from bidding.evaluation.models import CommitteeMember, EvaluationReport, ExpertDraw, Publicity, ScoreSubmission
from bidding.evaluation.services.scoring import submission_verify
from tests.evaluation.factories import ExpertFactory, SpecialtyFactory, opened_section
from trading.models import Role, SectionState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-9"


def code_for(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def sign_in(browser, base, user):
    """A browser context of its own per person, signed in with password and (where needed) TOTP."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("signin").click()
    if user.needs_second_factor:
        page.wait_for_url("**/accounts/otp/")
        page.fill("#id_token", code_for(user))
        page.get_by_test_id("verify").click()
    page.wait_for_url("**/workspace/")
    return page


def with_device(user):
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def test_from_the_draw_to_the_award_notice(live_server, browser, make_user):
    base = live_server.url
    section = opened_section(bids=4, prices=[452_000_000, 438_500_000, 471_200_000, 446_900_000])
    a01, a02 = SpecialtyFactory(code="A01", name="房屋建筑"), SpecialtyFactory(code="A02", name="工程造价")
    for n in range(10):
        with_device(ExpertFactory(specialties=[a01 if n % 2 else a02]).user)
    staff = with_device(make_user(Role.STAFF))
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)

    console = sign_in(browser, base, staff)
    console.goto(f"{base}/sections/{section.public_id}/draw/")
    console.fill("#id_size", "5")
    console.fill("#id_quotas", "A01:3,A02:2")
    console.get_by_test_id("commit").click()
    commitment = console.get_by_test_id("commitment").inner_text()
    console.get_by_test_id("make").click()
    console.wait_for_selector("[data-testid=start]")
    draw = ExpertDraw.objects.get()
    assert draw.commitment == commitment and "保密" in console.get_by_test_id("seats").inner_text()

    pages = {}
    declined = None
    while draw.members.filter(status="invited").exists():
        member = draw.members.filter(status="invited").select_related("expert__user").first()
        page = pages.get(member.pk) or sign_in(browser, base, member.expert.user)
        page.goto(base + "/expert/")
        card = page.get_by_test_id(f"seat-{section.public_id}")
        if declined is None:
            card.locator("input[name=reason]").fill("当日有手术安排")
            card.get_by_test_id("decline").click()
            page.wait_for_selector(".messages")
            declined = member
            page.context.close()
            continue
        card.get_by_test_id("accept").click()
        page.wait_for_selector("[data-testid=score-link]")
        pages[member.pk] = page
    assert CommitteeMember.objects.get(pk=declined.pk).status == "declined"
    assert len(pages) == 5

    console.goto(f"{base}/sections/{section.public_id}/draw/")
    console.get_by_test_id("start").click()
    console.wait_for_selector("[data-testid=seed]")
    draw.refresh_from_db()
    assert draw.status == "in_session" and console.get_by_test_id("seed").inner_text() == draw.seed

    for n, page in enumerate(pages.values()):
        page.goto(f"{base}/expert/sections/{section.public_id}/")
        # The page makes the expert's own signing key in this browser and registers its public key.
        page.wait_for_function("document.querySelector('[data-testid=key-status]').textContent.includes('已在本浏览器生成')")
        if n == 0:  # the same expert in another browser: its key is not there; restore the backup or make a new one
            other = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
            other.add_cookies(page.context.cookies())  # signed in, but this browser's storage is empty
            elsewhere = other.new_page()
            elsewhere.goto(f"{base}/expert/sections/{section.public_id}/")
            elsewhere.wait_for_selector("#key-restore:not([hidden])")
            assert "没有您登记的签名私钥" in elsewhere.get_by_test_id("key-status").inner_text()
            elsewhere.context.close()
        for bid in range(1, 5):
            page.get_by_test_id(f"score-{bid}-technical").fill(str(28 + n + bid))
            page.get_by_test_id(f"score-{bid}-schedule").fill("8")
            page.get_by_test_id(f"score-{bid}-commercial").fill("7.5")
        page.get_by_test_id("submit-scores").click()
        page.wait_for_selector("[data-testid=signed]")
    assert ScoreSubmission.objects.count() == 5
    for submission in ScoreSubmission.objects.select_related("member__expert"):  # signed in the browser by each expert
        assert submission.expert_signature and submission.expert_key == submission.member.expert.signing_public_key
        assert submission_verify(submission)
    first = next(iter(pages.values())).get_by_test_id("expert-signature").inner_text()
    assert first == ScoreSubmission.objects.order_by("submitted_at").first().expert_signature  # shown to the expert

    # Regs 48: the expert in seat 5 leaves; staff replace it, the seat is redrawn and the replacement scores anew.
    leaving = draw.members.get(seat=5, status="accepted")
    console.goto(f"{base}/sections/{section.public_id}/draw/")
    console.select_option("[data-testid=replace-form] select[name=seat]", "5")
    console.select_option("[data-testid=replace-form] select[name=reason]", "absent")
    console.once("dialog", lambda dialog: dialog.accept())
    console.get_by_test_id("replace").click()
    console.wait_for_selector(".messages")
    assert "席位 5 的专家已更换" in console.locator(".messages").inner_text()
    assert "已提交评分：4 / 5" in console.get_by_test_id("submitted").inner_text()
    newcomer = draw.members.select_related("expert__user").get(seat=5, status="invited")
    page = sign_in(browser, base, newcomer.expert.user)
    page.goto(base + "/expert/")
    page.get_by_test_id(f"seat-{section.public_id}").get_by_test_id("accept").click()
    page.wait_for_selector("[data-testid=score-link]")
    page.goto(f"{base}/expert/sections/{section.public_id}/")
    page.wait_for_function("document.querySelector('[data-testid=key-status]').textContent.includes('已在本浏览器生成')")
    for bid in range(1, 5):
        page.get_by_test_id(f"score-{bid}-technical").fill(str(30 + bid))
        page.get_by_test_id(f"score-{bid}-schedule").fill("8")
        page.get_by_test_id(f"score-{bid}-commercial").fill("7")
    page.get_by_test_id("submit-scores").click()
    page.wait_for_selector("[data-testid=signed]")
    pages.pop(leaving.pk).context.close()
    pages[newcomer.pk] = page
    assert ScoreSubmission.objects.count() == 6  # the void one is kept for the record
    seated = next(iter(pages.values()))
    seated.reload()
    assert seated.get_by_test_id("all-scores").locator("tr").count() == 6  # header + five experts, once all are in

    console.goto(f"{base}/sections/{section.public_id}/draw/")
    console.get_by_test_id("make-report").click()
    console.get_by_test_id("report-link").click()
    assert "评标报告" in console.get_by_test_id("report-title").inner_text()
    assert console.get_by_test_id("ranking").locator("tr").count() == 5
    report = EvaluationReport.objects.get()
    assert report.pdf.read().startswith(b"%PDF")
    console.goto(f"{base}/sections/{section.public_id}/draw/")
    console.get_by_test_id("publicize").click()
    console.wait_for_selector(".messages")

    winner = report.candidates.get(rank=1).opening.bid.registration.organization.name
    public = browser.new_context(locale="zh-CN").new_page()
    public.goto(f"{base}/sections/{section.public_id}/candidates/")
    assert winner in public.get_by_test_id("candidates").inner_text()
    Publicity.objects.update(ends_at=timezone.now() - timedelta(seconds=1))  # three days later

    owner = sign_in(browser, base, tenderer)
    owner.goto(f"{base}/sections/{section.public_id}/candidates/")
    owner.get_by_test_id("award").click()
    owner.get_by_test_id("result-link").click()
    assert owner.get_by_test_id("notice-winner").inner_text() == winner

    public.goto(f"{base}/sections/{section.public_id}/result/")
    assert winner in public.get_by_test_id("winner").inner_text()
    assert all(p.expert.name in public.get_by_test_id("committee").inner_text() for p in draw.members.filter(status="accepted"))
    section.refresh_from_db()
    assert section.state == SectionState.AWARDED
