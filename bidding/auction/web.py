"""The auction room page: price, countdown, my position, the offers as they happen; spectators read only."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from bidding.auction import selectors


def room_texts() -> dict:
    """The page script's words, through gettext like the rest of the interface."""
    return {
        "scheduled": _("待挂牌"),
        "listing": _("挂牌中"),
        "countdown": _("限时竞价中"),
        "sold": _("已成交"),
        "failed": _("未成交"),
        "toStart": _("距挂牌开始"),
        "toListingEnd": _("距挂牌截止"),
        "toCountdownEnd": _("限时竞价倒计时"),
        "leading": _("您的报价领先"),
        "outbid": _("您的报价已被超越"),
        "none": _("您尚未报价"),
        "tooLow": _("报价须不低于"),
        "yuan": _("元"),
        "sent": _("报价已被接受"),
        "won": _("竞得人"),
        "price": _("成交价"),
        "premium": _("溢价率"),
        "failedBelow": _("最高报价低于保留价，未成交"),
        "failedNone": _("无人报价，未成交"),
        "reserve": _("保留价"),
        "frozen": _("已冻结"),
    }


def sale_room_page(request, public_id):
    sale = selectors.sale_for(user=request.user, public_id=public_id)
    room = selectors.sale_room(user=request.user, sale=sale)
    return render(request, "auction/room.html", {"room": room, "sale": sale, "texts": room_texts()})
