"""The auction room page: price, countdown, my position, the offers as they happen; spectators read only."""

from django.shortcuts import render

from bidding.auction import selectors


def sale_room_page(request, public_id):
    sale = selectors.sale_for(user=request.user, public_id=public_id)
    room = selectors.sale_room(user=request.user, sale=sale)
    return render(request, "auction/room.html", {"room": room, "sale": sale})
