"""Escrow pages (mounted at the site root), and the simulated provider's own pages under /sim-gateway/."""

from django.urls import path

from escrow import web

urlpatterns = [
    path("sections/<str:public_id>/deposit/", web.deposit_page, name="deposit-page"),
    path("sections/<str:public_id>/deposit/status/", web.deposit_status, name="deposit-status"),
    path("sections/<str:public_id>/deposit/pay/", web.deposit_pay, name="deposit-pay"),
    path("sections/<str:public_id>/deposits/", web.deposit_board_page, name="deposit-board"),
    path("escrow/reconciliation/", web.reconciliation_page, name="escrow-reconciliation"),
    path("escrow/alerts/", web.alerts_page, name="escrow-alerts"),
    path("sim-gateway/pay/<uuid:order_id>/", web.sim_pay_page, name="sim-pay"),
]
