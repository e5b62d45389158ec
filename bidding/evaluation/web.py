"""Evaluation pages: the staff draw console and pool, the expert's workspace, the report, and the
public draw record, candidates and result. Each POST calls one service; reads go through selectors."""

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bidding.evaluation import selectors
from bidding.evaluation.models import Candidate, EvaluationReport, Expert, Publicity, Specialty
from bidding.evaluation.services import award as award_services
from bidding.evaluation.services import draw as draw_services
from bidding.evaluation.services.collusion import collusion_scan
from bidding.evaluation.services.pool import experts_import_csv
from bidding.evaluation.services.scoring import (
    REJECT_GROUNDS,
    all_scores_in,
    counted_submissions,
    scheme_of,
    scores_submit,
    valid_openings,
)
from bidding.parts import opened_part_open
from trading import policy
from trading import selectors as trading_selectors
from trading.errors import DomainError, NotAllowed
from trading.supervision import selectors as supervision_selectors
from trading.web.streaming import StreamedFileResponse


class DrawForm(forms.Form):
    size = forms.IntegerField(label=gettext_lazy("委员会人数"), min_value=1, max_value=99, initial=5)
    quotas = forms.CharField(
        label=gettext_lazy("专业及人数"), initial="A01:3,A02:2", help_text=gettext_lazy("如 A01:3,A02:2（专业代码:人数）")
    )
    remote = forms.BooleanField(label=gettext_lazy("异地评标（仅抽取外地专家）"), required=False)
    representatives = forms.CharField(
        label=gettext_lazy("招标人代表（专家编号，以逗号分隔）"),
        required=False,
        help_text=gettext_lazy("招标人的人员，计入委员会人数，不超过三分之一；不从专家库抽取。"),
    )

    def clean_representatives(self):
        codes = [code.strip() for code in self.cleaned_data["representatives"].replace("，", ",").split(",") if code.strip()]
        experts = {e.code: e for e in Expert.objects.filter(code__in=codes)}
        missing = [code for code in codes if code not in experts]
        if missing:
            raise forms.ValidationError(_("专家库中没有：%(codes)s") % {"codes": "、".join(missing)})
        return [experts[code] for code in dict.fromkeys(codes)]

    def clean_quotas(self):
        try:
            pairs = [item.split(":") for item in self.cleaned_data["quotas"].replace("，", ",").split(",") if item.strip()]
            return [(code.strip(), int(count)) for code, count in pairs]
        except ValueError:
            raise forms.ValidationError(_("格式应为 专业代码:人数，以逗号分隔。")) from None


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("专家名单（CSV，UTF-8）"))


class ContractForm(forms.Form):
    signed_on = forms.DateField(label=gettext_lazy("签订日期"), initial=date.today)
    amount_yuan = forms.DecimalField(label=gettext_lazy("合同金额（元）"), min_value=0, decimal_places=2)
    performance_bond_yuan = forms.DecimalField(
        label=gettext_lazy("履约保证金（元，不超过合同金额的10%）"), min_value=0, decimal_places=2, required=False
    )


# The scoring page's script says these (static/evaluation/scoring.js), in the page's language.
SCORING_TEXT = {
    "kept": gettext_lazy("签名密钥保存在本浏览器（不可导出）；提交评分时用它签名。"),
    "made": gettext_lazy("已在本浏览器生成签名密钥并登记公钥。请下载备份并妥善保管。"),
    "missing": gettext_lazy("本浏览器没有您登记的签名私钥：请用密钥备份文件恢复，或生成新密钥（旧密钥不再用于签名）。"),
    "replace": gettext_lazy("生成新密钥并登记？之后只能用新密钥签名。"),
    "otherKey": gettext_lazy("该备份文件中的密钥不是您登记的签名密钥。"),
    "noKey": gettext_lazy("还没有可用的签名密钥。"),
    "passphrase": gettext_lazy("为备份文件设置口令（至少12位）"),
    "passphraseShort": gettext_lazy("口令至少12位。"),
}


@login_required
def experts_page(request):
    """The pool (staff): list, and import from CSV with a report of the bad rows."""
    experts = selectors.experts_list(user=request.user)
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["file"].read().decode("utf-8", errors="replace")
        report = experts_import_csv(actor=request.user, text=text)
    context = {
        "experts": experts[:200],
        "count": experts.count(),
        "form": form,
        "report": report,
        "specialties": Specialty.objects.all(),
    }
    return render(request, "evaluation/experts.html", context)


def _back(request, name, public_id):
    return redirect(name, public_id=public_id)


@login_required
def draw_console(request, public_id):
    """Staff: commit the draw, draw, watch the seats (numbers and statuses only until the session), start it,
    then the scores, the flags, the report and the publicity."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    if not policy.can_run_draw(request.user, section):
        raise NotAllowed("NOT-ALLOWED", _("开标后由交易中心工作人员抽取评标专家。"))
    draw = selectors.draw_of(section)
    op = request.POST.get("op", "")
    form = DrawForm(request.POST if request.method == "POST" and op == "commit" else None)
    if request.method == "POST":
        try:
            if not form.is_bound or form.is_valid():  # an invalid form shows its errors beside its fields
                _console_action(request, section, draw, op, form)
                return _back(request, "evaluation-draw", public_id)
        except DomainError as error:
            messages.error(request, f"{error.code}: {error.message}")
            if not form.is_bound:
                return _back(request, "evaluation-draw", public_id)
        # A refused commitment: the page again with the rules as typed, to be corrected rather than retyped.
    record = selectors.draw_record(user=request.user, section=section)
    context = {
        "section": section,
        "record": record,
        "form": form,
        "specialties": Specialty.objects.all(),
        "scheme": scheme_of(section),
        "all_in": bool(draw and all_scores_in(draw)),
        "submitted": counted_submissions(draw).count() if draw else 0,
        "pending_seats": selectors.pending_seats(draw) if draw else [],
        "replaceable_seats": selectors.replaceable_seats(draw) if draw else [],
        "vacant_representative_seats": selectors.vacant_representative_seats(draw) if draw else [],
        "vacant_drawn_seats": selectors.vacant_drawn_seats(draw) if draw else [],
        "replace_reasons": draw_services.REPLACE_REASONS,
        "report": EvaluationReport.objects.filter(section=section).first(),
        "publicity": Publicity.objects.filter(section=section).first(),
        "flags": selectors.flags_list(user=request.user, section=section) if policy.can_supervise(request.user) else None,
    }
    return render(request, "evaluation/draw_console.html", context)


VACANT_MESSAGE = gettext_lazy(
    "席位 %(seat)s 的专家已更换；候选名单中已无该专业可补抽的专家，席位空缺，请补充抽取（EVAL-POOL-SHORT）。"
)


def _console_action(request, section, draw, op, form):
    if op == "commit":
        draw_services.draw_commit(actor=request.user, section=section, **form.cleaned_data)
        messages.success(request, _("已公布抽取承诺。"))
        return
    if draw is None:
        raise DomainError("EVAL-NO-DRAW", _("尚未抽取。"))
    if op == "make":
        draw_services.draw_make(actor=request.user, draw=draw)
        messages.success(request, _("已抽取，系统已通知被抽中的专家。"))
    elif op == "start":
        started = draw_services.session_start(actor=request.user, draw=draw)
        if started.status == draw.Status.IN_SESSION:
            messages.success(request, _("评标已开始，抽取种子已公开。"))
        else:  # EVAL-CONFLICT: recused seats were redrawn; the session waits for the replacements to accept
            messages.warning(request, _("有专家因利害关系回避（EVAL-CONFLICT），已从同一种子补抽；补抽的专家确认后再开始评标。"))
            if selectors.vacant_drawn_seats(started):
                messages.warning(request, _("有席位的候选名单已无可补抽的专家，席位空缺：请补充抽取。"))
    elif op == "replace":
        member = draw.members.sitting().filter(seat=_int(request.POST.get("seat"))).first()
        if member is None:
            raise DomainError("NOT-FOUND", _("没有这个席位。"))
        replacement = draw_services.member_replace(
            actor=request.user, member=member, reason=request.POST.get("reason", ""), note=request.POST.get("note", "")
        )
        if member.source == member.Source.REPRESENTATIVE:
            messages.success(request, _("席位 %(seat)s 的招标人代表已更换；请登记招标人的新代表。") % {"seat": member.seat})
        elif replacement is None:
            messages.warning(request, VACANT_MESSAGE % {"seat": member.seat})
        else:
            messages.success(
                request, _("席位 %(seat)s 的专家已更换，已从同一种子补抽；补抽的专家确认后重新评审。") % {"seat": member.seat}
            )
    elif op == "supplement":
        members = draw_services.draw_supplement(actor=request.user, draw=draw)
        messages.success(
            request, _("已补充抽取席位 %(seats)s，并已通知被抽中的专家。") % {"seats": "、".join(str(m.seat) for m in members)}
        )
    elif op == "appoint":
        expert = Expert.objects.filter(code=request.POST.get("expert", "").strip()).first()
        if expert is None:
            raise DomainError("NOT-FOUND", _("专家库中没有这个编号。"))
        member = draw_services.representative_appoint(
            actor=request.user, draw=draw, seat=_int(request.POST.get("seat")), expert=expert
        )
        messages.success(request, _("已登记席位 %(seat)s 的招标人代表，并已通知其确认。") % {"seat": member.seat})
    elif op == "scan":
        collusion_scan(section=section, actor=request.user)
    elif op == "report":
        award_services.report_make(actor=request.user, draw=draw)
        messages.success(request, _("评标报告已生成。"))
    elif op == "fail":
        award_services.evaluation_fail(actor=request.user, draw=draw)
        messages.success(request, _("全部投标被否决，本标段流标。"))
    elif op == "publicize":
        award_services.publicity_start(actor=request.user, section=section)
        messages.success(request, _("中标候选人已公示。"))
    else:
        raise DomainError("UNKNOWN-ACTION", _("未知操作。"))


def _int(text) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def draw_record_page(request, public_id):
    """Public: the commitment, rules and candidate codes; the seed once revealed, for anyone to re-run."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    record = selectors.draw_record(user=request.user, section=section)
    draw = record.draw if record else None
    flags = (
        selectors.flags_list(user=request.user, section=section)
        if policy.collusion_flags_visible(request.user, section, draw)
        else []
    )
    return render(request, "evaluation/draw_record.html", {"section": section, "record": record, "flags": flags})


@login_required
def expert_workspace(request):
    """The expert's own invitations: accept or decline; seats in session link to scoring."""
    if request.method == "POST":
        seat = selectors.my_seats(user=request.user).filter(pk=request.POST.get("member") or 0).first()
        try:
            if seat is None:
                raise NotAllowed("NOT-ALLOWED", _("没有这项邀请。"))
            accept = request.POST.get("op") == "accept"
            draw_services.member_respond(user=request.user, member=seat, accept=accept, reason=request.POST.get("reason", ""))
            messages.success(request, _("已确认参加。") if accept else _("已拒绝，系统将从同一种子补抽。"))
        except DomainError as error:
            messages.error(request, f"{error.code}: {error.message}")
        return redirect("evaluation-expert")
    seats = selectors.my_seats(user=request.user).order_by("-invited_at")
    return render(request, "evaluation/expert_workspace.html", {"seats": seats})


@login_required
def expert_section(request, public_id):
    """Scoring: the valid bids and their parts, the flags, one form per bid, submitted once and signed."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    draw = selectors.draw_of(section)
    if not policy.can_evaluate(request.user, draw) and policy.sitting_member(request.user, draw) is None:
        raise NotAllowed("NOT-ALLOWED", _("只有评标委员会成员可以进入评标。"))
    scheme = scheme_of(section)
    if request.method == "POST":
        scores, rejections = {}, {}
        for opening in valid_openings(section):
            key = str(opening.pk)
            if request.POST.get(f"reject-{key}"):
                rejections[key] = {"code": request.POST.get(f"reject-{key}"), "reason": request.POST.get(f"reason-{key}", "")}
            else:
                scores[key] = {c["key"]: request.POST.get(f"score-{key}-{c['key']}", "") for c in scheme.criteria}
        try:
            scores_submit(
                user=request.user, draw=draw, scores=scores, rejections=rejections, dissent=request.POST.get("dissent", "")
            )
            messages.success(request, _("评分已提交并签名。"))
        except DomainError as error:
            messages.error(request, f"{error.code}: {error.message}")
        return redirect("evaluation-expert-section", public_id=public_id)
    bids = selectors.bids_for_committee(user=request.user, draw=draw) if policy.can_evaluate(request.user, draw) else []
    all_in = all_scores_in(draw)
    context = {
        "section": section,
        "draw": draw,
        "scheme": scheme,
        "bids": [
            {"opening": o, "parts": parts, "bidder": policy.bidder_label(request.user, o.bid.registration)} for o, parts in bids
        ],
        "grounds": REJECT_GROUNDS,
        "own": selectors.own_submission(user=request.user, draw=draw),
        "flags": selectors.flags_list(user=request.user, section=section)
        if policy.collusion_flags_visible(request.user, section, draw)
        else [],
        "all_in": all_in,
        "submissions": selectors.submissions_list(user=request.user, draw=draw) if all_in else [],
        "expert": getattr(request.user, "expert_profile", None),
        "scoring_text": SCORING_TEXT,
    }
    return render(request, "evaluation/expert_section.html", context)


@login_required
def expert_part(request, public_id):
    """A decrypted part of a bid, for the committee in session (?id=)."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    draw = selectors.draw_of(section)
    bids = selectors.bids_for_committee(user=request.user, draw=draw)
    wanted = request.GET.get("id", "")
    part = next((p for _o, parts in bids for p in parts if str(p.pk) == wanted), None)
    if part is None:
        raise Http404
    return StreamedFileResponse(  # decrypted from the envelope as it is sent (bidding.parts)
        opened_part_open(part), as_attachment=True, filename=part.filename or part.name, content_type=part.content_type or None
    )


def _report(request, public_id):
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    report = EvaluationReport.objects.filter(section=section).first()
    if not policy.report_visible(request.user, section, selectors.draw_of(section)) or report is None:
        raise NotAllowed("NOT-ALLOWED", _("评标报告尚未生成，或您无权查看。"))
    return section, report


def report_page(request, public_id):
    section, report = _report(request, public_id)
    return render(request, "evaluation/report.html", {"section": section, "report": report, "doc": report.document})


def report_pdf(request, public_id):
    section, report = _report(request, public_id)
    response = HttpResponse(report.pdf.read(), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="evaluation-report-{section.public_id}.pdf"'
    return response


def candidates_page(request, public_id):
    """Public: the candidates during publicity, objections (bidders raise, the tenderer answers), the award."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    publicity = Publicity.objects.filter(section=section).select_related("announcement").first()
    if publicity is None:
        raise NotAllowed("NOT-PUBLICIZED", _("中标候选人尚未公示。"))
    if request.method == "POST":
        try:
            _candidates_action(request, section)
        except DomainError as error:
            messages.error(request, f"{error.code}: {error.message}")
        return redirect("evaluation-candidates", public_id=public_id)
    report = EvaluationReport.objects.get(section=section)
    award = selectors.award_of(section)
    context = {
        "section": section,
        "publicity": publicity,
        "candidates": report.candidates.select_related("opening__bid__registration__organization"),
        "objections": selectors.objections_list(user=request.user, section=section) if request.user.is_authenticated else [],
        "may_object": policy.can_raise_candidate_objection(request.user, section),
        "may_decide": request.user.is_authenticated and policy.can_decide_award(request.user, section),
        "award": award,
        "contract_form": ContractForm(),
        "may_report": request.user.is_authenticated and policy.can_file_award_report(request.user, section),
        "award_report": supervision_selectors.current_award_report(section) if award else None,
    }
    return render(request, "evaluation/candidates.html", context)


def _candidates_action(request, section):
    if not request.user.is_authenticated:
        raise NotAllowed("NOT-ALLOWED", _("请先登录。"))
    op = request.POST.get("op", "")
    if op == "object":
        award_services.objection_raise(user=request.user, section=section, text=request.POST.get("text", ""))
        messages.success(request, _("异议已提交。"))
    elif op == "answer":
        objection = (
            selectors.objections_list(user=request.user, section=section).filter(pk=request.POST.get("objection") or 0).first()
        )
        if objection is None:
            raise NotAllowed("NOT-ALLOWED", _("没有这项异议。"))
        award_services.objection_answer(user=request.user, objection=objection, answer=request.POST.get("answer", ""))
        messages.success(request, _("异议已答复，提出人可在本页查看答复。"))
    elif op == "disqualify":
        candidate = Candidate.objects.filter(report__section=section, pk=request.POST.get("candidate") or 0).first()
        if candidate is None:
            raise NotAllowed("NOT-ALLOWED", _("没有这名候选人。"))
        candidate = award_services.candidate_disqualify(
            actor=request.user, candidate=candidate, reason=request.POST.get("reason", "")
        )
        messages.success(request, _("已认定第%(rank)s名中标候选人不符合中标条件。") % {"rank": candidate.rank})
    elif op == "award":
        award_services.award_make(actor=request.user, section=section)
        messages.success(request, _("已定标并发出中标通知书。"))
    elif op == "contract":
        form = ContractForm(request.POST)
        if not form.is_valid():
            raise DomainError("INVALID", _("请填写签订日期和合同金额。"))
        award_services.contract_record(
            actor=request.user,
            section=section,
            signed_on=form.cleaned_data["signed_on"],
            amount_fen=int(form.cleaned_data["amount_yuan"] * 100),
            performance_bond_fen=int((form.cleaned_data["performance_bond_yuan"] or 0) * 100),
        )
        messages.success(request, _("合同已登记，保证金将退还。"))
    elif op == "report":
        award_services.award_report_file(actor=request.user, section=section, body=request.POST.get("body", ""))
        messages.success(request, _("书面报告已提交行政监督部门。"))
    elif op == "refuse":
        award_services.award_refuse(actor=request.user, section=section, reason=request.POST.get("reason", ""))
        messages.success(request, _("已登记中标人放弃中标，其保证金不予退还。"))
    else:
        raise DomainError("UNKNOWN-ACTION", _("未知操作。"))


def result_page(request, public_id):
    """Public: the result announcement and the award notice with its platform signature."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    award = selectors.award_of(section)
    if award is None:
        raise NotAllowed("NOT-AWARDED", _("尚未定标。"))
    record = selectors.draw_record(user=request.user, section=section)
    context = {"section": section, "award": award, "record": record}
    return render(request, "evaluation/result.html", context)
