"""The project's URLs plus a baseline: a plain JsonResponse over the same announcement rows."""

from django.http import JsonResponse
from django.urls import include, path

from trading.models import Announcement


def baseline_announcements(request):
    rows = list(
        Announcement.objects.filter(section__state__in=["published", "bidding_closed", "opened", "evaluating", "failed"])
        .order_by("-published_at", "-pk")
        .values(
            "id",
            "kind",
            "title",
            "body",
            "published_at",
            "section__public_id",
            "section__name",
            "section__project__region",
            "section__project__transaction_type",
            "section__state",
        )[:20]
    )
    return JsonResponse({"results": rows})


urlpatterns = [path("bench/baseline/", baseline_announcements), path("", include("config.urls"))]
