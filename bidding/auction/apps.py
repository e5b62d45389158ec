from django.apps import AppConfig


class AuctionConfig(AppConfig):
    """Land and property-rights sales: listing (挂牌) and limited-time bidding (限时竞价)."""

    name = "bidding.auction"
    label = "auction"
    verbose_name = "网上竞价"
