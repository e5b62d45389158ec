"""Evaluation pages (mounted at the site root, before trading's catch-all section actions)."""

from django.urls import path

from bidding.evaluation import web

urlpatterns = [
    path("evaluation/experts/", web.experts_page, name="evaluation-experts"),
    path("expert/", web.expert_workspace, name="evaluation-expert"),
    path("expert/sections/<str:public_id>/", web.expert_section, name="evaluation-expert-section"),
    path("expert/sections/<str:public_id>/part/", web.expert_part, name="evaluation-expert-part"),
    path("sections/<str:public_id>/draw/", web.draw_console, name="evaluation-draw"),
    path("sections/<str:public_id>/draw/record/", web.draw_record_page, name="evaluation-draw-record"),
    path("sections/<str:public_id>/evaluation-report/", web.report_page, name="evaluation-report"),
    path("sections/<str:public_id>/evaluation-report/pdf/", web.report_pdf, name="evaluation-report-pdf"),
    path("sections/<str:public_id>/candidates/", web.candidates_page, name="evaluation-candidates"),
    path("sections/<str:public_id>/result/", web.result_page, name="evaluation-result"),
]
