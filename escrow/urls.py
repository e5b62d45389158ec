"""Escrow API routes (mounted under /api/v1/)."""

from django.urls import path

from escrow import api

urlpatterns = [
    path("sections/<str:public_id>/deposit/", api.MyDeposit.as_view(), name="api-my-deposit"),
    path("sections/<str:public_id>/deposit/pay/", api.DepositPay.as_view(), name="api-deposit-pay"),
    path("sections/<str:public_id>/deposit-terms/", api.DepositTerms.as_view(), name="api-deposit-terms"),
    path("sections/<str:public_id>/deposits/", api.DepositBoard.as_view(), name="api-deposit-board"),
    path("sections/<str:public_id>/deposits/payers/", api.DepositPayers.as_view(), name="api-deposit-payers"),
    path("sections/<str:public_id>/deposits/forfeit/", api.DepositForfeit.as_view(), name="api-deposit-forfeit"),
    path("escrow/notifications/sim/", api.SimNotification.as_view(), name="api-escrow-notify-sim"),
    path("escrow/statements/", api.StatementImport.as_view(), name="api-escrow-statements"),
    path("escrow/reconciliation/", api.ReconciliationList.as_view(), name="api-escrow-reconciliation"),
    path("escrow/alerts/", api.AlertList.as_view(), name="api-escrow-alerts"),
]
