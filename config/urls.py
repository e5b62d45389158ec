from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("trading.api.urls")),
    path("api/v1/", include("bidding.evaluation.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("escrow.web_urls")),
    path("", include("livestream.urls")),
    path("", include("bidding.opening_urls")),
    path("", include("bidding.evaluation.urls")),
    path("", include("trading.supervision.urls")),
    path("", include("bidding.auction.web_urls")),
    path("", include("trading.web.urls")),
]
