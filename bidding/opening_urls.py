from django.urls import path

from bidding import opening_web as views

urlpatterns = [
    path("openings/<str:public_id>/", views.opening_live, name="opening-live"),
    path("openings/<str:public_id>/console/", views.opening_console, name="opening-console"),
    path("openings/<str:public_id>/share/", views.opening_share, name="opening-share"),
    path("openings/<str:public_id>/start/", views.opening_start, name="opening-start"),
    path("openings/<str:public_id>/decrypt/", views.opening_decrypt, name="opening-decrypt"),
    path("openings/<str:public_id>/decrypt/end/", views.opening_decrypt_end, name="opening-decrypt-end"),
    path("openings/<str:public_id>/checkin/", views.opening_checkin, name="opening-checkin"),
    path("openings/<str:public_id>/objection/", views.opening_objection, name="opening-objection"),
    path("openings/<str:public_id>/answer/", views.opening_answer, name="opening-answer"),
    path("openings/<str:public_id>/unlock/", views.opening_unlock, name="opening-unlock"),
    path("openings/<str:public_id>/my-bid/", views.opening_own_bid, name="opening-own-bid"),
    path("openings/<str:public_id>/record/", views.opening_record, name="opening-record"),
]
