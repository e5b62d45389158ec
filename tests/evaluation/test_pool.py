"""The expert pool: CSV import with a report of bad rows; the collusion scan runs when a session starts."""

import pytest

from bidding.evaluation.models import Expert
from bidding.evaluation.services.pool import experts_import_csv
from tests.evaluation.conftest import seat_all
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.models import Role

pytestmark = pytest.mark.django_db

HEADER = "code,name,specialties,employer_credit_code,employer_name,region,phone,email,username\n"


def test_csv_import_creates_good_rows_and_reports_each_bad_one(staff, specialties):
    text = (
        HEADER
        + "E-90001,赵一,A01;A02,913301000000000001,甲设计院,西湖区,13500000001,zhao@example.com,zhao1\n"
        + "E-90002,钱二,A09,913301000000000002,乙咨询,西湖区,13500000002,,\n"  # unknown specialty
        + "E-90003,,A01,913301000000000003,丙,西湖区,13500000003,,\n"  # no name
        + "E-90004,孙四,A01,12345,丁,西湖区,1350000abc,,\n"  # bad credit code and phone
        + "E-90001,李五,A01,913301000000000001,甲设计院,西湖区,13500000005,,\n"  # duplicate code
        + "E-90006,周六,A02,913301000000000001,甲设计院,余杭区,13500000006,,zhao1\n"  # username taken
    )
    report = experts_import_csv(actor=staff, text=text)
    assert report.created == ["E-90001"]
    assert [line for line, _message in report.errors] == [3, 4, 5, 6, 7]
    assert "A09" in report.errors[0][1] and "18" in report.errors[2][1]
    assert list(Expert.objects.values_list("code", flat=True)) == ["E-90001"]
    expert = Expert.objects.get()
    assert set(expert.specialties.values_list("code", flat=True)) == {"A01", "A02"}
    assert expert.user.role == Role.EXPERT and expert.user.needs_second_factor
    # The new account's initial password is in the report (once, for staff to hand over) and signs in.
    [(code, username, password)] = report.accounts
    assert (code, username) == ("E-90001", "zhao1") and expert.user.check_password(password)
    entry = AuditEntry.objects.get(event=AuditEvent.EXPERTS_IMPORTED)
    assert entry.data == {"created": 1, "updated": 0, "rejected": 5} and password not in str(entry.data)


def test_csv_import_refuses_a_file_without_the_columns(staff, specialties):
    report = experts_import_csv(actor=staff, text="code,name\nE-1,x\n")
    assert report.errors and report.errors[0][0] == 1 and not Expert.objects.exists()


def test_csv_import_updates_an_expert_by_code(staff, specialties):
    experts_import_csv(actor=staff, text=HEADER + "E-90001,赵一,A01,913301000000000001,甲,西湖区,13500000001,,\n")
    report = experts_import_csv(actor=staff, text=HEADER + "E-90001,赵一,A02,913301000000000001,甲,滨江区,13500000001,,\n")
    assert report.updated == ["E-90001"]
    expert = Expert.objects.get()
    assert expert.region == "滨江区" and list(expert.specialties.values_list("code", flat=True)) == ["A02"]


def test_COLLUSION_40_scan_runs_when_the_session_starts(staff, committed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seat_all(staff, committed)
    assert AuditEntry.objects.filter(event=AuditEvent.COLLUSION_SCANNED, section=committed.section).count() == 1


def test_the_pool_page_imports_a_file_and_shows_the_bad_rows(staff, specialties):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from tests.conftest import signed_in

    text = (
        HEADER
        + "E-90001,赵一,A01,913301000000000001,甲,西湖区,13500000001,,\nE-90002,钱二,A09,913301000000000002,乙,西湖区,1,,\n"
    )
    upload = SimpleUploadedFile("experts.csv", text.encode("utf-8-sig"), content_type="text/csv")
    body = signed_in(Client(), staff).post("/evaluation/experts/", {"file": upload}).content.decode()
    assert 'data-testid="import-report"' in body and "A09" in body and "赵一" in body
    assert Expert.objects.filter(code="E-90001").exists() and not Expert.objects.filter(code="E-90002").exists()
