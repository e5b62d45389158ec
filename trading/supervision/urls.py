"""Supervision pages (mounted at the site root)."""

from django.urls import path

from trading.supervision import web

urlpatterns = [
    path("supervision/", web.console, name="supervision-console"),
    path("supervision/rules/", web.rules_page, name="supervision-rules"),
    path("supervision/sections/<str:public_id>/", web.section_page, name="supervision-section"),
    path("supervision/sections/<str:public_id>/stop/", web.section_stop, name="supervision-section-stop"),
    path("supervision/alerts/<int:alert_id>/handle/", web.alert_handle, name="supervision-alert-handle"),
    path("supervision/notices/", web.notices_page, name="supervision-notices"),
    path("supervision/notices/<int:notice_id>/respond/", web.notice_respond, name="supervision-notice-respond"),
    path("supervision/complaints/", web.complaints_page, name="supervision-complaints"),
    path("supervision/complaints/<int:complaint_id>/accept/", web.complaint_accept, name="supervision-complaint-accept"),
    path("supervision/complaints/<int:complaint_id>/reject/", web.complaint_reject, name="supervision-complaint-reject"),
    path("supervision/complaints/<int:complaint_id>/decide/", web.complaint_decide, name="supervision-complaint-decide"),
    path("sections/<str:public_id>/objections/", web.section_objections, name="section-objections"),
    path("objections/<int:objection_id>/answer/", web.objection_answer, name="objection-answer"),
]

from trading.supervision import portal  # noqa: E402

urlpatterns += [
    path("statistics/", portal.statistics_page, name="statistics"),
    path("statistics/export.csv", portal.statistics_csv, name="statistics-csv"),
    path("results/", portal.results_page, name="public-results"),
    path("opendata/", portal.opendata_index, name="opendata-index"),
    path("opendata/releases.json", portal.opendata_releases, name="opendata-releases"),
    path("opendata/records.json", portal.opendata_records, name="opendata-records"),
]
