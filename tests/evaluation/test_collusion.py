"""COLLUSION-40: flags with their evidence; honest bids are not flagged."""

import io
import zipfile

import pytest
from django.utils import timezone
from reportlab.pdfgen import canvas

from bidding.evaluation import collusion as pure
from bidding.evaluation.models import CollusionFlag
from bidding.evaluation.selectors import flags_list
from bidding.evaluation.services.collusion import collusion_scan
from escrow.gateways import Notification
from escrow.services.deposits import deposit_open
from escrow.services.payments import payment_record
from tests.evaluation.factories import add_bid, add_part
from tests.factories import SectionFactory
from trading.errors import NotAllowed

pytestmark = pytest.mark.django_db


def pdf(*, author: str, creator: str, text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.setAuthor(author)
    page.setCreator(creator)
    page.drawString(100, 700, text)
    page.save()
    return buffer.getvalue()


def docx(*, author: str, company: str, application: str = "Microsoft Office Word") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "docProps/core.xml",
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{author}</dc:creator>'
            f"<cp:lastModifiedBy>{author}</cp:lastModifiedBy></cp:coreProperties>",
        )
        package.writestr(
            "docProps/app.xml",
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>{application}</Application><AppVersion>16.0000</AppVersion><Company>{company}</Company></Properties>",
        )
        package.writestr("word/document.xml", f"<w>{author}{company}</w>")
    return buffer.getvalue()


def pay(opening, account: str, name: str):
    deposit = deposit_open(registration=opening.bid.registration)
    note = Notification(
        provider="sim",
        txn_id=f"T-{opening.pk}",
        virtual_account=deposit.virtual_account,
        amount_fen=deposit.amount_due_fen,
        currency="CNY",
        payer_name=name,
        payer_account=account,
        received_at=timezone.now(),
    )
    payment_record(note=note, source="notification")


@pytest.fixture
def planted():
    """Five bids: A and B collude (same document author, same paying account); C, D, E are honest."""
    section = SectionFactory(state="opened", published_at=timezone.now(), opened_at=timezone.now())
    prices = {"A": 451_230_000, "B": 463_870_000, "C": 448_810_000, "D": 470_020_000, "E": 439_550_000}
    openings = {}
    for order, (letter, price) in enumerate(prices.items(), start=1):
        opening = add_bid(section, price_fen=price, order=order, manager=f"经理{letter}")
        author = "王小明" if letter in "AB" else f"作者{letter}"
        add_part(opening, name="technical", data=pdf(author=author, creator=f"WPS {letter}", text=f"技术标 {letter}"))
        pay(opening, account="6222020200001111" if letter in "AB" else f"62220202000099{order}", name=f"付款人{letter}")
        openings[letter] = opening
    return section, {k: o.bid.registration.bidder_code for k, o in openings.items()}


def test_COLLUSION_40_a_planted_pair_is_flagged_with_both_pieces_of_evidence_and_honest_bids_are_not(planted):
    section, codes = planted
    flags = collusion_scan(section=section)
    pair = sorted([codes["A"], codes["B"]])
    assert {(f.kind, tuple(f.bidder_codes)) for f in flags} == {("same_metadata", tuple(pair)), ("same_payer", tuple(pair))}
    author = next(f for f in flags if f.kind == "same_metadata")
    assert author.evidence["field"] == "author" and author.evidence["value"] == "王小明"
    assert author.evidence["parts"] == {codes["A"]: ["technical"], codes["B"]: ["technical"]}
    payer = next(f for f in flags if f.kind == "same_payer")
    assert payer.evidence == {"rule": "DEP-SAME-PAYER", "bidder_codes": pair}
    assert "6222020200001111" not in str(payer.evidence)  # the account itself stays sealed in escrow
    honest = {codes[k] for k in "CDE"}
    assert not any(honest & set(f.bidder_codes) for f in flags)


def test_COLLUSION_40_the_scan_is_safe_to_run_twice(planted):
    section, codes = planted
    collusion_scan(section=section)
    collusion_scan(section=section)
    assert CollusionFlag.objects.filter(section=section).count() == 2
    # Each sign raised one alert for the supervisors' live feed, not one per scan.
    from trading.supervision.models import Alert

    alerts = Alert.objects.filter(section=section, rule="COLLUSION-40")
    assert alerts.count() == 2
    assert {tuple(sorted(a.bidder_codes)) for a in alerts} == {tuple(sorted([codes["A"], codes["B"]]))}


def test_COLLUSION_40_flags_are_for_the_supervisors_and_the_committee_only(planted, supervisor, staff, make_user):
    section, _codes = planted
    collusion_scan(section=section)
    assert len(flags_list(user=supervisor, section=section)) == 2
    for user in (staff, make_user("tenderer", organization=section.project.tenderer), make_user("expert")):
        with pytest.raises(NotAllowed):
            flags_list(user=user, section=section)


def test_COLLUSION_40_identical_files_same_upload_address_and_same_project_manager():
    section = SectionFactory(state="opened", published_at=timezone.now(), opened_at=timezone.now())
    same = pdf(author="甲", creator="x", text="同一份文件")
    a = add_bid(section, price_fen=400_000_000, order=1, manager="李工", client_ip="192.0.2.7", user_agent="UA-1")
    b = add_bid(section, price_fen=423_000_000, order=2, manager=" 李工", client_ip="192.0.2.7", user_agent="UA-1")
    c = add_bid(section, price_fen=461_000_000, order=3, manager="赵工", client_ip="198.51.100.1", user_agent="UA-2")
    add_bid(section, price_fen=479_000_000, order=4, manager="钱工", client_ip="198.51.100.2", user_agent="UA-3")
    add_part(a, name="commercial", data=same)
    add_part(b, name="commercial", data=same)
    add_part(c, name="commercial", data=pdf(author="丙", creator="y", text="另一份"))
    kinds = {f.kind: f for f in collusion_scan(section=section)}
    pair = sorted([a.bid.registration.bidder_code, b.bid.registration.bidder_code])
    assert set(kinds) == {"same_file", "same_metadata", "same_ip", "same_device", "same_manager"}
    assert all(f.bidder_codes == pair for f in kinds.values())
    assert kinds["same_ip"].evidence == {"client_ip": "192.0.2.7"}
    assert kinds["same_manager"].evidence == {"project_manager": "李工"}
    assert kinds["same_file"].evidence["sha256"] == a.parts.get().sha256


def test_COLLUSION_40_docx_author_and_company_but_not_the_office_suite_everyone_uses():
    def facts(n, author, company):
        data = docx(author=author, company=company)
        meta = pure.file_metadata(io.BytesIO(data))
        return pure.BidFacts(
            n,
            f"B-{n}",
            400_000_000 + n * 7_919_000 + n * n * 1000,
            f"m{n}",
            f"ip{n}",
            f"ua{n}",
            (pure.PartFacts("t", f"h{n}", meta),),
        )

    bids = [facts(1, "张三", "甲公司"), facts(2, "张三", "甲公司"), facts(3, "李四", "乙公司"), facts(4, "王五", "丙公司")]
    assert bids[0].parts[0].metadata["application"] == "Microsoft Office Word 16.0000"
    flags = pure.detect(bids)
    assert {(f.kind, f.evidence["field"]) for f in flags} == {
        ("same_metadata", "author"),
        ("same_metadata", "last_modified_by"),
        ("same_metadata", "company"),
    }
    assert all(f.codes == ["B-1", "B-2"] for f in flags)


def test_COLLUSION_40_regular_and_abnormally_close_prices():
    def bid(n, price):
        return pure.BidFacts(n, f"B-{n}", price, f"m{n}", f"ip{n}", f"ua{n}")

    arithmetic = pure.detect([bid(1, 400_000_000), bid(2, 410_000_000), bid(3, 420_000_000), bid(4, 437_120_000)])
    assert [(f.kind, f.codes, f.evidence["step"]) for f in arithmetic] == [("price_pattern", ["B-1", "B-2", "B-3"], 10_000_000)]
    geometric = pure.detect([bid(1, 400_000_000), bid(2, 440_000_000), bid(3, 484_000_000), bid(4, 391_770_000)])
    assert [(f.kind, f.codes, f.evidence["pattern"]) for f in geometric] == [
        ("price_pattern", ["B-1", "B-2", "B-3"], "geometric")
    ]
    close = pure.detect([bid(1, 400_000_000), bid(2, 400_150_000), bid(3, 452_000_000)])
    assert [(f.kind, f.codes) for f in close] == [("price_close", ["B-1", "B-2"])]
    honest = pure.detect([bid(1, 400_000_000), bid(2, 411_370_000), bid(3, 429_910_000), bid(4, 447_020_000)])
    assert honest == []


def test_COLLUSION_40_supervisors_read_the_flags_on_the_draw_record_page(planted, supervisor, make_user):
    from django.test import Client

    from tests.conftest import signed_in

    section, _codes = planted
    collusion_scan(section=section)
    url = f"/sections/{section.public_id}/draw/record/"
    body = signed_in(Client(), supervisor).get(url).content.decode()
    assert "王小明" in body and "DEP-SAME-PAYER" in body
    body = Client().get(url).content.decode()
    assert "王小明" not in body and "DEP-SAME-PAYER" not in body
