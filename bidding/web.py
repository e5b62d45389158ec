"""The bidder's page: keys, sealing in the browser, resumable upload, receipt, withdrawal."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from bidding.submission import own_registration
from trading import selectors
from trading.services.lifecycle import bidding_is_open


@login_required
def bid_page(request, public_id):
    section = selectors.section_get(user=request.user, public_id=public_id)
    registration = own_registration(actor=request.user, section=section)
    context = {
        "section": section,
        "registration": registration,
        "opening_key": getattr(section, "opening_key", None),
        "bid": registration.bids.order_by("-submitted_at").first(),
        "open": bidding_is_open(section),
    }
    return render(request, "bidding/bid_page.html", context)
