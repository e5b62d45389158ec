from django.urls import path

from bidding.web import bid_page, bid_receipt, custodian_page
from trading.web import views

urlpatterns = [
    path("", views.portal, name="portal"),
    path("sections/<str:public_id>/", views.section_detail, name="section-detail"),
    path("sections/<str:public_id>/bid/", bid_page, name="bid-page"),
    path("sections/<str:public_id>/bid/receipt/", bid_receipt, name="bid-receipt"),
    path("sections/<str:public_id>/<str:action>/", views.section_action, name="section-action"),
    path("audit/", views.audit_page, name="audit"),
    path("workspace/", views.workspace, name="workspace"),
    path("custodian/", custodian_page, name="custodian"),
    path("accounts/login/", views.signin, name="login"),
    path("accounts/otp/", views.otp, name="otp"),
    path("accounts/otp/setup/", views.otp_setup, name="otp-setup"),
    path("accounts/logout/", views.signout, name="logout"),
]
