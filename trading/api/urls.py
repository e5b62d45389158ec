from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from bidding import api as bidding_api
from trading.api import accounts, audit, calendar, views

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("me/", accounts.Me.as_view(), name="api-me"),
    path("auth/token/", accounts.TokenObtain.as_view(), name="api-token"),
    path("announcements/", views.AnnouncementList.as_view(), name="api-announcements"),
    path("announcements/<int:pk>/", views.AnnouncementDetail.as_view(), name="api-announcement"),
    path("projects/", views.ProjectList.as_view(), name="api-projects"),
    path("projects/new/", views.ProjectCreate.as_view(), name="api-project-create"),
    path("sections/", views.SectionList.as_view(), name="api-sections"),
    path("sections/new/", views.SectionCreate.as_view(), name="api-section-create"),
    path("sections/<str:public_id>/", views.SectionDetail.as_view(), name="api-section"),
    path("sections/<str:public_id>/edit/", views.SectionUpdate.as_view(), name="api-section-update"),
    path("sections/<str:public_id>/publish/", views.SectionPublish.as_view(), name="api-section-publish"),
    path("sections/<str:public_id>/clarifications/", views.SectionClarify.as_view(), name="api-section-clarify"),
    path("sections/<str:public_id>/suspend/", views.SectionSuspend.as_view(), name="api-section-suspend"),
    path("sections/<str:public_id>/resume/", views.SectionResume.as_view(), name="api-section-resume"),
    path("sections/<str:public_id>/documents/", views.DocumentUpload.as_view(), name="api-document-upload"),
    path("sections/<str:public_id>/documents/<int:pk>/download/", views.DocumentDownload.as_view(), name="api-document-download"),
    path("sections/<str:public_id>/registrations/", bidding_api.SectionRegistrations.as_view(), name="api-section-registrations"),
    path("sections/<str:public_id>/register/", bidding_api.RegistrationCreate.as_view(), name="api-register"),
    path("registrations/", bidding_api.MyRegistrations.as_view(), name="api-my-registrations"),
    path("calendar/", calendar.CalendarList.as_view(), name="api-calendar"),
    path("calendar/set/", calendar.CalendarSet.as_view(), name="api-calendar-set"),
    path("audit/entries/", audit.AuditEntryList.as_view(), name="api-audit-entries"),
    path("audit/checkpoints/", audit.CheckpointList.as_view(), name="api-checkpoints"),
    path("audit/checkpoints/latest/", audit.CheckpointLatest.as_view(), name="api-checkpoint-latest"),
    path("audit/checkpoints/download/", audit.CheckpointDownload.as_view(), name="api-checkpoints-download"),
    path("audit/proofs/inclusion/", audit.InclusionProof.as_view(), name="api-proof-inclusion"),
    path("audit/proofs/consistency/", audit.ConsistencyProof.as_view(), name="api-proof-consistency"),
    path("audit/public-key/", audit.PublicKey.as_view(), name="api-public-key"),
]
