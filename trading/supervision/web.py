"""Supervision pages: the console, per-section view, notices, complaints; the bidders' objection and complaint forms."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from trading import policy
from trading import selectors as trading_selectors
from trading.errors import DomainError, NotAllowed
from trading.services import sections as section_services
from trading.supervision import selectors
from trading.supervision.forms import AcceptForm, ComplaintForm, NoticeForm, ObjectionForm, TextForm
from trading.supervision.registry import REGISTRY
from trading.supervision.services import alerts as alert_services
from trading.supervision.services import complaints as complaint_services
from trading.supervision.services import notices as notice_services
from trading.supervision.services.feed import feed_stream
from trading.web.forms import ReasonForm

REPLAY = 200  # the console replays this many of the feed's latest events, then goes live


def _supervisor(request):
    if not policy.can_read_supervision(request.user):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以使用电子监察。"))


@login_required
def console(request):
    _supervisor(request)
    stream = feed_stream()
    alerts = list(selectors.alerts_list(user=request.user)[:50])
    context = {
        "stream": stream,
        "after": max(0, stream.last_seq - REPLAY),
        "alerts": [(a, selectors.alert_codes_shown(a)) for a in alerts],
        "sections": selectors.sections_watched(user=request.user)[:100],
        "notices": selectors.notices_list(user=request.user)[:20],
        "complaints": selectors.complaints_list(user=request.user)[:20],
    }
    return render(request, "supervision/console.html", context)


@login_required
def rules_page(request):
    _supervisor(request)
    counts = selectors.alert_counts(user=request.user)
    rules = [(rule, counts.get(rule.code, {})) for rule in sorted(REGISTRY.values(), key=lambda r: (r.step, r.code))]
    return render(request, "supervision/rules.html", {"rules": rules})


@login_required
def section_page(request, public_id):
    _supervisor(request)
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    context = {
        "section": section,
        "timeline": selectors.section_timeline(user=request.user, section=section),
        "chain": selectors.section_audit_chain(user=request.user, section=section),
        "statuses": selectors.rule_status(user=request.user, section=section),
        "reason_form": ReasonForm(),
        "notice_form": NoticeForm(),
    }
    return render(request, "supervision/section.html", context)


@login_required
@require_POST
def section_stop(request, public_id):
    """Suspend or resume with a reason (lifecycle's supervisors' power)."""
    _supervisor(request)
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError("REASON-REQUIRED", _("须说明理由。"))
        if section.state == "suspended":
            section_services.section_resume(actor=request.user, section=section, reason=form.cleaned_data["reason"])
        else:
            section_services.section_suspend(actor=request.user, section=section, reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect("supervision-section", public_id=section.public_id)


@login_required
@require_POST
def alert_handle(request, alert_id):
    _supervisor(request)
    alert = get_object_or_404(selectors.alerts_list(user=request.user), pk=alert_id)
    form = TextForm(request.POST)
    if form.is_valid():
        alert_services.alert_handle(actor=request.user, alert=alert, note=form.cleaned_data["text"])
    return redirect("supervision-console")


@login_required
def notices_page(request):
    if not policy.can_read_supervision(request.user) and not policy.can_answer_notice(request.user):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员和交易中心工作人员可以查看督办通知。"))
    form = NoticeForm(request.POST or None)
    if request.method == "POST":
        _supervisor(request)
        section = None
        if request.POST.get("section"):
            section = trading_selectors.section_get(user=request.user, public_id=request.POST["section"])
        if form.is_valid():
            try:
                notice_services.notice_issue(actor=request.user, section=section, **form.cleaned_data)
                messages.success(request, _("督办通知已发出。"))
                return redirect("supervision-notices")
            except DomainError as error:
                form.add_error(None, f"{error.code}: {error.message}")
    return render(
        request,
        "supervision/notices.html",
        {"notices": selectors.notices_list(user=request.user), "form": form, "answer_form": TextForm(), "now": timezone.now()},
    )


@login_required
@require_POST
def notice_respond(request, notice_id):
    notice = get_object_or_404(selectors.notices_list(user=request.user), pk=notice_id)
    form = TextForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError("NOTICE-TEXT", _("答复内容必填。"))
        notice_services.notice_respond(actor=request.user, notice=notice, response=form.cleaned_data["text"])
    except DomainError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect("supervision-notices")


@login_required
def complaints_page(request):
    _supervisor(request)
    return render(
        request,
        "supervision/complaints.html",
        {"complaints": selectors.complaints_list(user=request.user), "accept_form": AcceptForm(), "text_form": TextForm()},
    )


@login_required
@require_POST
def complaint_act(request, complaint_id, act):
    _supervisor(request)
    complaint = get_object_or_404(selectors.complaints_list(user=request.user), pk=complaint_id)
    try:
        if act == "accept":
            form = AcceptForm(request.POST)
            form.is_valid()
            complaint_services.complaint_accept(
                actor=request.user,
                complaint=complaint,
                suspend=form.cleaned_data.get("suspend", False),
                reason=form.cleaned_data.get("reason", ""),
            )
        else:
            form = TextForm(request.POST)
            text = form.cleaned_data["text"] if form.is_valid() else ""
            if act == "reject":
                complaint_services.complaint_reject(actor=request.user, complaint=complaint, reason=text)
            else:
                complaint_services.complaint_decide(actor=request.user, complaint=complaint, decision=text)
    except DomainError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect("supervision-complaints")


def complaint_accept(request, complaint_id):
    return complaint_act(request, complaint_id, "accept")


def complaint_reject(request, complaint_id):
    return complaint_act(request, complaint_id, "reject")


def complaint_decide(request, complaint_id):
    return complaint_act(request, complaint_id, "decide")


# --- the bidders' side: objections to the tenderer, complaints to the supervisors ------------
@login_required
def section_objections(request, public_id):
    """A bidder objects or complains; the tenderer's side answers objections. Each sees what the policy lets it."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    objection_form = ObjectionForm(request.POST if request.POST.get("form") == "objection" else None)
    complaint_form = ComplaintForm(
        request.POST if request.POST.get("form") == "complaint" else None,
        request.FILES if request.POST.get("form") == "complaint" else None,
    )
    if request.method == "POST":
        try:
            if objection_form.is_bound and objection_form.is_valid():
                complaint_services.objection_file(actor=request.user, section=section, **objection_form.cleaned_data)
                messages.success(request, _("异议已提交。"))
            elif complaint_form.is_bound and complaint_form.is_valid():
                data = complaint_form.cleaned_data
                objection = None
                if data.get("objection"):
                    objection = selectors.objections_list(user=request.user, section=section).filter(pk=data["objection"]).first()
                complaint_services.complaint_file(
                    actor=request.user,
                    section=section,
                    subject=data["subject"],
                    body=data["body"],
                    known_on=data["known_on"],
                    objection=objection,
                    evidence=[data["evidence"]] if data.get("evidence") else [],
                )
                messages.success(request, _("投诉已提交。"))
            else:
                raise DomainError("INVALID", _("请完整填写表单。"))
            return redirect("section-objections", public_id=section.public_id)
        except DomainError as error:
            messages.error(request, f"{error.code}: {error.message}")
    objections = [
        (o, policy.party_label(request.user, organization=o.organization, section=section, anonymous=_("异议人")))
        for o in selectors.objections_list(user=request.user, section=section)
    ]
    context = {
        "section": section,
        "objections": objections,
        "complaints": selectors.complaints_list(user=request.user).filter(section=section),
        "may_object": policy.can_object(request.user, section),
        "may_answer": policy.can_answer_objection(request.user, section),
        "objection_form": objection_form,
        "complaint_form": complaint_form,
        "answer_form": TextForm(),
    }
    return render(request, "supervision/objections.html", context)


@login_required
@require_POST
def objection_answer(request, objection_id):
    objection = get_object_or_404(selectors.objections_list(user=request.user), pk=objection_id)
    form = TextForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError("OBJECTION-FORM", _("答复内容必填。"))
        complaint_services.objection_answer(actor=request.user, objection=objection, answer=form.cleaned_data["text"])
    except DomainError as error:
        messages.error(request, f"{error.code}: {error.message}")
    return redirect("section-objections", public_id=objection.section.public_id)
