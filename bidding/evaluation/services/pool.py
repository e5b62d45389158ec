"""The expert pool: experts, the specialties catalogue, CSV import with a report of bad rows."""

import csv
import io
import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from bidding.evaluation.models import Expert, Specialty
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.models import Organization, OrganizationKind, Role, User

CSV_COLUMNS = ["code", "name", "specialties", "employer_credit_code", "employer_name", "region", "phone", "email", "username"]


def expert_create(
    *,
    code: str,
    name: str,
    employer: Organization,
    specialties: list[Specialty],
    region: str,
    phone: str,
    email: str = "",
    user: User | None = None,
) -> Expert:
    expert = Expert.objects.create(code=code, name=name, employer=employer, region=region, phone=phone, email=email, user=user)
    expert.specialties.set(specialties)
    return expert


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    # New accounts and their one-time initial passwords: shown once to staff, to hand over in person.
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (code, username, password)


def _row_errors(row: dict, catalogue: dict) -> list[str]:
    errors = []
    for column in ("code", "name", "specialties", "employer_credit_code", "region", "phone"):
        if not (row.get(column) or "").strip():
            errors.append(_("缺少 %(column)s") % {"column": column})
    unknown = [c for c in _codes(row.get("specialties", "")) if c not in catalogue]
    if unknown:
        errors.append(_("未知专业代码 %(codes)s") % {"codes": ", ".join(unknown)})
    credit = (row.get("employer_credit_code") or "").strip()
    if credit and len(credit) != 18:
        errors.append(_("统一社会信用代码应为18位"))
    phone = (row.get("phone") or "").strip()
    if phone and not phone.replace("-", "").isdigit():
        errors.append(_("联系电话格式不正确"))
    return errors


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace("；", ";").split(";") if c.strip()]


def experts_import_csv(*, actor, text: str) -> ImportReport:
    """Good rows are created or updated (by code); each bad row is reported with its line and why, none half-written."""
    report = ImportReport()
    catalogue = {s.code: s for s in Specialty.objects.all()}
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS[:7] if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, _("表头缺少列：%(columns)s") % {"columns": ", ".join(missing)}))
        return report
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        errors = _row_errors(row, catalogue)
        code = (row.get("code") or "").strip()
        if code in seen:
            errors.append(_("专家编号重复"))
        if errors:
            report.errors.append((line, "；".join(errors)))
            continue
        seen.add(code)
        try:
            with transaction.atomic():
                _import_row(row, code, catalogue, report)
        except IntegrityError:
            report.errors.append((line, _("用户名已被占用")))
    audit_append(
        event=AuditEvent.EXPERTS_IMPORTED,
        actor=actor,
        data={"created": len(report.created), "updated": len(report.updated), "rejected": len(report.errors)},
    )
    return report


def _import_row(row: dict, code: str, catalogue: dict, report: ImportReport) -> None:
    credit = row["employer_credit_code"].strip()
    employer, _created = Organization.objects.get_or_create(
        credit_code=credit,
        defaults={"name": (row.get("employer_name") or credit).strip(), "kind": OrganizationKind.EXPERT_EMPLOYER},
    )
    values = {
        "name": row["name"].strip(),
        "employer": employer,
        "region": row["region"].strip(),
        "phone": row["phone"].strip(),
        "email": (row.get("email") or "").strip(),
    }
    expert, created = Expert.objects.update_or_create(code=code, defaults=values)
    expert.specialties.set([catalogue[c] for c in _codes(row["specialties"])])
    username = (row.get("username") or "").strip()
    if username and expert.user_id is None:
        # An expert account signs in with a password and a TOTP second factor (set up on first sign-in);
        # the initial password exists only in this report, never in a log or the audit chain.
        user = User.objects.create(username=username, role=Role.EXPERT, organization=employer, first_name=values["name"])
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        report.accounts.append((code, username, password))
        expert.user = user
        expert.save(update_fields=["user"])
    (report.created if created else report.updated).append(code)
