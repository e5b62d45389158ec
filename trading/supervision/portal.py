"""Public pages: statistics (dashboard, CSV), opening records, candidates and results, complaint decisions, checkpoints."""

import json
from datetime import datetime, time

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trading import selectors as trading_selectors
from trading.audit.models import Checkpoint
from trading.models import AnnouncementKind, TransactionType
from trading.supervision import opendata, selectors, statistics


class StatisticsFilter(forms.Form):
    period = forms.ChoiceField(
        label=_("统计周期"), required=False, choices=[("month", _("月")), ("quarter", _("季度")), ("year", _("年"))]
    )
    transaction_type = forms.ChoiceField(label=_("交易类型"), required=False, choices=[("", _("全部")), *TransactionType.choices])
    region = forms.CharField(label=_("地区"), required=False, max_length=64)
    start = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _groups(request):
    form = StatisticsFilter(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}

    def moment(day, *, end=False):
        if not day:
            return None
        tz = timezone.get_current_timezone()
        return timezone.make_aware(datetime.combine(day, time.min), tz) + (
            timezone.timedelta(days=1) if end else timezone.timedelta()
        )

    groups = statistics.statistics_compute(
        period=data.get("period") or "month",
        transaction_type=data.get("transaction_type", ""),
        region=data.get("region", "").strip(),
        start=moment(data.get("start")),
        end=moment(data.get("end"), end=True),
    )
    return form, groups


def statistics_page(request):
    form, groups = _groups(request)
    labels = dict(TransactionType.choices)
    chart = {
        "labels": [f"{labels.get(g.transaction_type, g.transaction_type)} {g.region} {g.period}" for g in groups],
        "sections": [g.sections for g in groups],
        "savings_rate": [float(g.savings_rate) * 100 if g.savings_rate is not None else None for g in groups],
        "premium_rate": [float(g.premium_rate) * 100 if g.premium_rate is not None else None for g in groups],
        "failure_rate": [float(g.failure_rate) * 100 if g.failure_rate is not None else None for g in groups],
        "average_bidders": [float(g.average_bidders) if g.average_bidders is not None else None for g in groups],
    }
    context = {"form": form, "groups": groups, "total": statistics.statistics_total(groups), "chart": chart}
    return render(request, "supervision/statistics.html", context)


def statistics_csv(request):
    _form, groups = _groups(request)
    response = HttpResponse("\ufeff" + statistics.statistics_csv(groups), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="sunlight-statistics.csv"'
    return response


def results_page(request):
    """Opening records and results of opened sections; candidates and results announcements; complaint decisions."""
    context = {
        "sections": selectors.opening_records(),
        "announcements": trading_selectors.announcements_list(user=request.user, kind=AnnouncementKind.CANDIDATES)[:20],
        "results": trading_selectors.announcements_list(user=request.user, kind=AnnouncementKind.RESULT)[:20],
        "reports": selectors.award_results()[:50],
        "decisions": selectors.complaint_decisions()[:50],
        "checkpoints": Checkpoint.objects.all()[:10],
    }
    return render(request, "supervision/results.html", context)


def opendata_index(request):
    sections = opendata.published_sections()
    return render(request, "supervision/opendata.html", {"sections": sections[:200], "count": sections.count()})


def _download(package: dict, name: str) -> HttpResponse:
    response = HttpResponse(json.dumps(package, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def opendata_releases(request):
    """Bulk download: one release package of every published section."""
    package = opendata.release_package(opendata.published_sections(), uri=request.build_absolute_uri())
    return _download(package, "sunlight-ocds-releases.json")


def opendata_records(request):
    package = opendata.record_package(opendata.published_sections(), uri=request.build_absolute_uri())
    return _download(package, "sunlight-ocds-records.json")
