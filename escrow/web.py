"""Deposit pages: the bidder's deposit, the staff board, the reconciliation report, supervisors' alerts,
and the simulated provider's own pay page (under /sim-gateway/, as a real provider's site would be)."""

import contextlib
import csv

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from escrow import selectors
from escrow.gateways import ProviderError, simulated
from escrow.gateways.simulated import sim_pay
from escrow.models import SimOrder
from escrow.services.deposits import BANK_NAME, deposit_cutoff, deposit_payment_order
from escrow.services.reconciliation import reconciliation_run
from trading import policy
from trading import selectors as trading_selectors
from trading.errors import NotAllowed


def _deposit_context(request, public_id) -> dict:
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    deposit = selectors.deposit_own(user=request.user, section=section)
    return {"section": section, "deposit": deposit, "cutoff": deposit_cutoff(section), "bank": BANK_NAME}


@login_required
def deposit_page(request, public_id):
    """The bidder's deposit: where to pay, how much, by when, and its status (polled until it changes)."""
    return render(request, "escrow/deposit_page.html", _deposit_context(request, public_id))


@login_required
def deposit_status(request, public_id):
    return render(request, "escrow/_deposit_status.html", _deposit_context(request, public_id))


@login_required
@require_POST
def deposit_pay(request, public_id):
    context = _deposit_context(request, public_id)
    order = deposit_payment_order(deposit=context["deposit"], return_url=reverse("deposit-page", args=[public_id]))
    return redirect(order.pay_url)


class LookupForm(forms.Form):
    code = forms.RegexField(label=gettext_lazy("投标人编号"), regex=r"^[Bb]-[0-9A-Za-z]{2,8}$", max_length=16)


@login_required
def deposit_board_page(request, public_id):
    """Staff: a lookup by bidder code before opening (no list, so no count), every deposit with names after."""
    section = trading_selectors.section_get(user=request.user, public_id=public_id)
    form = LookupForm(request.GET or None)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    mode, rows = selectors.deposit_board(user=request.user, section=section, code=code)
    context = {"section": section, "mode": mode, "rows": rows, "form": form, "looked_up": bool(code)}
    return render(request, "escrow/board.html", context)


@login_required
def reconciliation_page(request):
    """Staff: the daily reconciliation runs and their differences; ?download=csv for the file; POST runs one now."""
    runs = selectors.reconciliation_runs(user=request.user)
    if request.method == "POST":
        day = timezone.localdate()
        try:
            day = forms.DateField().clean(request.POST.get("day") or day)
        except forms.ValidationError:
            messages.error(request, _("日期格式错误。"))
        else:
            run = reconciliation_run(day=day)
            messages.success(request, _("已完成 %(day)s 的对账：%(n)d 处差异。") % {"day": day, "n": run.differences.count()})
        return redirect("escrow-reconciliation")
    if request.GET.get("download") == "csv":
        return _reconciliation_csv(runs)
    return render(request, "escrow/reconciliation.html", {"runs": runs})


def _reconciliation_csv(runs) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="reconciliation.csv"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    writer = csv.writer(response)
    writer.writerow(["day", "provider", "run", "kind", "movement", "reference", "virtual_account", "ledger_fen", "provider_fen"])
    for run in runs:
        for d in run.differences.all():
            writer.writerow(
                [run.day, run.provider, run.pk, d.kind, d.movement, d.reference, d.virtual_account, d.ledger_fen, d.provider_fen]
            )
    return response


@login_required
def alerts_page(request):
    if not policy.can_supervise(request.user):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以查看预警。"))
    return render(request, "escrow/alerts.html", {"alerts": selectors.alerts_list(user=request.user)[:200]})


# --- the simulated provider's own site ---


class SimPayForm(forms.Form):
    payer_name = forms.CharField(label=gettext_lazy("付款人户名"), max_length=200)
    payer_account = forms.RegexField(label=gettext_lazy("付款账号"), regex=r"^[0-9 -]{8,40}$", max_length=64)


def sim_pay_page(request, order_id):
    """The provider's page: the payer confirms; the money is taken and the platform is notified asynchronously."""
    order = SimOrder.objects.filter(pk=order_id).first() if simulated.enabled() else None
    if order is None:
        raise Http404
    form = SimPayForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not order.paid_at:
        with contextlib.suppress(ProviderError):  # paid meanwhile: the order shows as paid
            sim_pay(order=order, **form.cleaned_data)
        target = order.return_url
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return redirect(target)
        order.refresh_from_db()
    return render(request, "escrow/sim_pay.html", {"order": order, "form": form})
