"""Server-rendered pages: the public portal, sign-in, and a workspace per role."""

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from bidding.services import registration_create
from trading import policy, selectors
from trading.audit.models import AuditEntry, Checkpoint
from trading.errors import DomainError
from trading.models import Role, SectionState
from trading.services import sections as section_services
from trading.services.signin import signin_check_password, signin_check_totp, totp_confirm, totp_device, totp_enroll
from trading.web.forms import AnnouncementFilterForm, OtpForm, ReasonForm, RegistrationForm, SigninForm


def portal(request):
    form = AnnouncementFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    announcements = selectors.announcements_list(
        user=request.user,
        kind=filters.get("kind", ""),
        region=filters.get("region", ""),
        status=filters.get("status", ""),
        query=filters.get("q", "").strip(),
    )
    page = Paginator(announcements, 20).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "regions": selectors.regions_list()}
    template = "trading/partials/announcements.html" if request.headers.get("HX-Request") else "trading/portal.html"
    return render(request, template, context)


def section_detail(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    context = {
        "section": section,
        "documents": section.documents.all(),
        "announcements": section.announcements.all(),
        "can_download": request.user.is_authenticated and policy.can_download_documents(request.user, section),
        "registrations": selectors.registrations_list(user=request.user, section=section),
        "registration_form": RegistrationForm() if _may_register(request.user, section) else None,
    }
    return render(request, "trading/section_detail.html", context)


def _may_register(user, section) -> bool:
    return (
        policy.role_of(user) == Role.BIDDER
        and section.state == SectionState.PUBLISHED
        and not section.registrations.filter(organization_id=user.organization_id).exists()
    )


def audit_page(request):
    checkpoints = Checkpoint.objects.all()[:20]
    entries = selectors.audit_entries_list(user=request.user).order_by("-index")[:50]
    return render(
        request, "trading/audit.html", {"checkpoints": checkpoints, "entries": entries, "size": AuditEntry.objects.count()}
    )


def signin(request):
    form = SigninForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = signin_check_password(request=request, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            login(request, user)
            if user.needs_second_factor:
                return redirect("otp")
            return _next(request)
    return render(request, "trading/signin.html", {"form": form})


def _next(request):
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("workspace")


@login_required
def otp(request):
    if request.user.is_verified():
        return redirect("workspace")
    if totp_device(request.user) is None:
        return redirect("otp-setup")
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = signin_check_totp(user=request.user, token=form.cleaned_data["token"])
        except DomainError as error:
            if error.code == "OTP-INVALID" and _locked(request.user):
                logout(request)
                return redirect("login")
            form.add_error("token", error.message)
        else:
            otp_login(request, device)
            return _next(request)
    return render(request, "trading/otp.html", {"form": form})


def _locked(user) -> bool:
    user.refresh_from_db(fields=["locked_until"])
    return bool(user.locked_until)


@login_required
def otp_setup(request):
    if totp_device(request.user) is not None:
        return redirect("otp")
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = totp_confirm(user=request.user, token=form.cleaned_data["token"])
        except DomainError as error:
            form.add_error("token", error.message)
        else:
            otp_login(request, device)
            return redirect("workspace")
        device = request.user.totpdevice_set.filter(confirmed=False).order_by("-pk").first()
    else:
        device = totp_enroll(user=request.user)
    svg = io.BytesIO()
    qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(svg)
    secret = base64.b32encode(device.bin_key).decode()
    return render(request, "trading/otp_setup.html", {"form": form, "qr_svg": svg.getvalue().decode(), "secret": secret})


@require_POST
def signout(request):
    logout(request)
    return redirect("portal")


@login_required
def workspace(request):
    user = request.user
    role = policy.role_of(user)
    context = {"role": role, "role_label": Role(role).label}
    sections = selectors.sections_list(user=user)
    if role in policy.MANAGING_ROLES:
        context["projects"] = selectors.projects_list(user=user).prefetch_related("sections")
    elif role == Role.BIDDER:
        context["registrations"] = selectors.registrations_own(user=user)
        context["open_sections"] = sections.filter(state=SectionState.PUBLISHED).exclude(
            registrations__organization_id=user.organization_id
        )
    elif role == Role.STAFF:
        context["drafts"] = sections.filter(state=SectionState.DRAFT)
        context["active"] = sections.exclude(state__in=[SectionState.DRAFT, SectionState.CLOSED, SectionState.TERMINATED])
    elif role == Role.SUPERVISOR:
        context["sections"] = sections.exclude(state=SectionState.DRAFT)
        context["reason_form"] = ReasonForm()
        context["entries"] = selectors.audit_entries_list(user=user).order_by("-index")[:20]
    return render(request, "trading/workspace.html", context)


@login_required
@require_POST
def section_action(request, public_id, action):
    """Form posts from the workspaces; each calls one service."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    try:
        if action == "publish":
            section_services.section_publish(actor=request.user, section=section)
        elif action in ("suspend", "resume"):
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise DomainError("REASON-REQUIRED", _("须说明理由。"))
            service = section_services.section_suspend if action == "suspend" else section_services.section_resume
            service(actor=request.user, section=section, reason=form.cleaned_data["reason"])
        elif action == "register":
            form = RegistrationForm(request.POST)
            if not form.is_valid():
                raise DomainError("INVALID", _("请填写联系人和联系电话。"))
            registration = registration_create(actor=request.user, section=section, **form.cleaned_data)
            messages.success(request, _("报名成功，投标人编号 %(code)s") % {"code": registration.bidder_code})
        else:
            raise DomainError("UNKNOWN-ACTION", _("未知操作。"))
    except DomainError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect(request.POST.get("back") or "workspace")
