from django.apps import AppConfig


class AuctionConfig(AppConfig):
    """Land and property-rights sales: listing (挂牌) and limited-time bidding (限时竞价)."""

    name = "bidding.auction"
    label = "auction"
    verbose_name = "网上竞价"

    def ready(self):
        from bidding.auction.selectors import sale_prices_by_section
        from trading.supervision.statistics import award_source_register

        award_source_register(sale_prices_by_section)  # the statistics read results from here first
