from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("trading.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("escrow.web_urls")),
    path("", include("livestream.urls")),
    path("", include("bidding.auction.web_urls")),
    path("", include("trading.web.urls")),
]
