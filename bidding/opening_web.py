"""Opening pages: the live page (anyone who may see the section), the staff console, the custodian's share page.

Every act is a POST that calls one service; a refusal comes back as a message on the page it came
from. What the pages show live comes from the opening's stream, through the visibility policy.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from bidding import opening as services
from bidding.models import OpeningCeremony, OpeningObjection
from trading import policy, selectors
from trading.errors import DomainError, NotAllowed


def _ceremony(section) -> OpeningCeremony | None:
    return OpeningCeremony.objects.filter(section=section).first()


def _labels() -> dict:
    states = {key: str(label) for key, label in OpeningCeremony.State.choices}
    return {
        "states": states,
        "record": _("开标记录已签名发布"),
        "quorum": _("已达法定人数"),
        "opened": _("已解密"),
        "failed": _("解密失败"),
        "faults": {"bidder": _("投标人原因，视为撤销投标"), "platform": _("平台原因，视为撤回投标")},
        "answer": _("答复"),
        "viewers": _("在线"),
        "connection": {"connecting": _("连接中"), "live": _("直播中"), "retrying": _("重连中"), "closed": _("已结束")},
        # No stream yet (staff have not started the opening): not "closed", which reads as "it is over".
        "waiting": _("等待开标开始，开始后自动显示"),
    }


def _context(request, section) -> dict:
    ceremony = _ceremony(section)
    registration = policy.opening_registration(request.user, section)
    return {
        "section": section,
        "ceremony": ceremony,
        "stream_key": f"opening.{section.public_id}",
        "is_bidder": registration is not None,
        "own_code": registration.bidder_code if registration is not None else "",
        "can_run": policy.can_run_opening(request.user, section),
        "can_present": policy.can_present_share(request.user, section),
        "record": policy.can_read_opening_record(request.user, section),
        "labels": _labels(),
        "checkin_open": ceremony is not None and ceremony.state in services.CHECKIN_OPEN,
        "checked_in": services.opening_checked_in(ceremony=ceremony, registration=registration),
    }


@require_GET
def opening_live(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    return render(request, "bidding/opening_live.html", _context(request, section))


@login_required
@require_GET
def opening_console(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    if not policy.can_run_opening(request.user, section):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以主持开标。"))
    context = _context(request, section)
    ceremony = context["ceremony"]
    context["acts"] = services.opening_acts(actor=request.user, section=section)
    context["open_objections"] = (
        OpeningObjection.objects.filter(ceremony=ceremony, answered_at__isnull=True).select_related("registration")
        if ceremony
        else []
    )
    return render(request, "bidding/opening_console.html", context)


@login_required
def opening_share(request, public_id):
    """The custodian presents its share: its passphrase re-derives its key in this request's memory only."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    if not policy.can_present_share(request.user, section):
        raise NotAllowed("NOT-ALLOWED", _("您不是本标段的密钥保管人。"))
    if request.method == "POST":
        try:
            services.opening_share_present(actor=request.user, section=section, passphrase=request.POST.get("passphrase", ""))
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("您的密钥分片已提交。"))
        return redirect("opening-share", public_id=public_id)
    return render(request, "bidding/opening_share.html", _context(request, section))


def _act(request, public_id, act, success: str, back: str = "opening-live"):
    section = selectors.section_get(user=request.user, public_id=public_id)
    try:
        act(section)
    except DomainError as error:
        messages.error(request, f"{error.message} ({error.code})")
    else:
        messages.success(request, success)
    return redirect(reverse(back, kwargs={"public_id": public_id}))


@login_required
@require_POST
def opening_start(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    try:
        ceremony = services.opening_start(actor=request.user, section=section)
    except DomainError as error:
        messages.error(request, f"{error.message} ({error.code})")
    else:
        if ceremony.state == OpeningCeremony.State.FAILED:  # OPEN-MIN-3: the start failed the section, said as such
            messages.error(request, _("有效投标不足3家，不予开标，本标段流标。") + f" ({ceremony.failure_code})")
        else:
            messages.success(request, _("开标已开始，投标人可以签到。"))
    return redirect("opening-console", public_id=public_id)


@login_required
@require_POST
def opening_decrypt(request, public_id):
    return _act(
        request,
        public_id,
        lambda s: services.opening_decrypt_begin(actor=request.user, section=s),
        _("解密已开始：请密钥保管人提交分片，投标人也可在线解密。"),
        "opening-console",
    )


@login_required
@require_POST
def opening_decrypt_end(request, public_id):
    return _act(
        request,
        public_id,
        lambda s: services.opening_decrypt_end(actor=request.user, section=s),
        _("解密时间已结束。"),
        "opening-console",
    )


@login_required
@require_POST
def opening_checkin(request, public_id):
    return _act(request, public_id, lambda s: services.opening_checkin(actor=request.user, section=s), _("签到成功。"))


@login_required
@require_POST
def opening_objection(request, public_id):
    return _act(
        request,
        public_id,
        lambda s: services.opening_objection_raise(actor=request.user, section=s, text=request.POST.get("text", "")),
        _("异议已提交，请等待答复。"),
    )


@login_required
@require_POST
def opening_answer(request, public_id):
    def act(section):
        try:
            objection_id = int(request.POST.get("objection", ""))
        except ValueError:
            raise NotAllowed("NOT-FOUND", _("没有这条异议。")) from None
        services.opening_objection_answer(
            actor=request.user, section=section, objection_id=objection_id, answer=request.POST.get("answer", "")
        )

    return _act(request, public_id, act, _("答复已发布。"), "opening-console")


def _error(error: DomainError) -> JsonResponse:
    return JsonResponse({"code": error.code, "message": error.message, "fields": error.fields}, status=error.status)


@login_required
@require_POST
def opening_unlock(request, public_id):
    """在线解密: JSON {"keys": {part: base64url data key}} unwrapped on the bidder's machine with its own key."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("keys"), dict):
        return JsonResponse({"code": "BAD-REQUEST", "message": _("请求格式不正确。"), "fields": {"keys": "object"}}, status=400)
    try:
        opening = services.opening_bidder_unlock(actor=request.user, section=section, data_keys=body["keys"])
    except DomainError as error:
        return _error(error)
    return JsonResponse({"status": opening.status, "keys_from": opening.keys_from})


@login_required
@require_GET
def opening_own_bid(request, public_id):
    """The bidder's own bid manifest (its wrapped data keys), to unwrap with its own key in the browser."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    registration = policy.opening_registration(request.user, section)
    if registration is None:
        return _error(NotAllowed("NOT-ALLOWED", _("只有本标段的投标人可以解密自己的投标文件。")))
    bid = registration.bids.filter(status="active").first()
    if bid is None:
        return _error(NotAllowed("OPEN-NOT-A-BIDDER", _("您在本标段没有有效投标。")))
    return JsonResponse({"manifest": bid.manifest, "digest": bid.digest})


@require_GET
def opening_record(request, public_id):
    """The signed opening record, once the opening closed; verify it with /api/v1/audit/public-key/."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    if not policy.can_read_opening_record(request.user, section):
        return _error(NotAllowed("OPEN-NO-RECORD", _("开标记录尚未发布。")))
    ceremony = section.opening_ceremony
    return JsonResponse(
        {"record": ceremony.record, "signature": ceremony.record_signature, "key_id": ceremony.record_key_id},
        json_dumps_params={"ensure_ascii": False},
    )
