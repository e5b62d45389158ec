"""The bidder's page: keys, sealing in the browser, resumable upload, receipt, withdrawal."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from bidding.ceremony import custodian_key_set
from bidding.models import Bid, CustodianKey, KeyShare, OpeningCeremony
from bidding.submission import latest_bid, own_registration
from trading import selectors
from trading.errors import NotAllowed
from trading.services.lifecycle import bidding_is_open

# What the bid page's script says (static/bidding/bid_page.js), in the page's language.
BID_PAGE_TEXT = {
    "kept": _("密钥已保存在本浏览器（不可导出）。"),
    "missing": _("本浏览器没有该报名的私钥：请用密钥备份文件恢复或用命令行工具投标。"),
    "made": _("已在本浏览器生成密钥并登记公钥。请下载备份并妥善保管。"),
    "passphrase": _("为备份文件设置口令（至少12位）"),
    "passphraseShort": _("口令至少12位。"),
    "uploading": _("上传"),
    "sealing": _("加密"),
    "received": _("已接收，回执可离线验证"),
    "status": _("状态"),
    "active": Bid.Status.ACTIVE.label,
    "badPrice": _("报价格式不正确。"),
    "withdraw": _("确定撤回投标？截止前可重新提交。"),
    "chooseKeyFile": _("请选择密钥备份文件。"),
    "badKeyFile": _("无法读取密钥备份：口令错误或文件不是本平台的密钥备份。"),
    "otherKey": _("该备份文件中的密钥不是本报名登记的密钥。"),
}


@login_required
def bid_page(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    registration = own_registration(actor=request.user, section=section)
    context = {
        "section": section,
        "registration": registration,
        "opening_key": getattr(section, "opening_key", None),
        "bid": latest_bid(registration),
        "open": bidding_is_open(section),
        "bid_page_text": BID_PAGE_TEXT,
        "own_entries": selectors.own_sealed_entries(user=request.user, section=section),
    }
    return render(request, "bidding/bid_page.html", context)


@login_required
def bid_receipt(request, public_id):
    """The bidder's receipt as the file `python -m bidding.cli verify-receipt` reads (receipt, signature, platform key)."""
    section = selectors.section_get(user=request.user, public_id=public_id)
    registration = own_registration(actor=request.user, section=section)
    bid = latest_bid(registration)
    if bid is None:
        raise Http404
    response = JsonResponse(bid.receipt, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="receipt-{registration.bidder_code}.json"'
    return response


class PassphraseForm(forms.Form):
    passphrase = forms.CharField(label=_("保管口令"), min_length=12, widget=forms.PasswordInput)
    confirm = forms.CharField(label=_("再次输入"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("passphrase") != data.get("confirm"):
            raise forms.ValidationError(_("两次输入不一致。"))
        return data


@login_required
def custodian_page(request):
    """A key custodian sets the passphrase its shares are sealed to, and sees the shares it holds."""
    if not request.user.is_key_custodian:
        raise NotAllowed("NOT-ALLOWED", _("只有密钥保管人可以访问此页。"))
    form = PassphraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        custodian_key_set(user=request.user, passphrase=form.cleaned_data["passphrase"])
        messages.success(request, _("保管口令已设置。此后生成的开标密钥分片将封装给您的新密钥。"))
        return redirect("custodian")
    context = {
        "form": form,
        "key": CustodianKey.objects.filter(custodian=request.user).first(),
        "shares": KeyShare.objects.filter(custodian=request.user).select_related("opening_key__section").order_by("-pk")[:50],
        # Openings waiting for this custodian's share now.
        "openings": OpeningCeremony.objects.filter(
            state=OpeningCeremony.State.DECRYPTING, section__opening_key__shares__custodian=request.user
        ).select_related("section"),
    }
    return render(request, "bidding/custodian.html", context)
