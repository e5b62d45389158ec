"""Announcements, projects and sections: one view per operation, services do the work."""

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Window
from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from trading import policy, selectors
from trading.api.serializers import AnnouncementOut, DocumentOut, ProjectOut, SectionOut
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed
from trading.models import AnnouncementKind, Procedure, SectionState, TransactionType
from trading.services import sections as section_services
from trading.web.streaming import StreamedFileResponse

ANNOUNCEMENT_FIELDS = {
    "id": "id",
    "kind": "kind",
    "title": "title",
    "body": "body",
    "published_at": "published_at",
    "section": "section__public_id",
    "section_name": "section__name",
    "region": "section__project__region",
    "transaction_type": "section__project__transaction_type",
    "status": "section__state",
}


class AnnouncementList(ListAPIView):
    """Public announcements by type, region and status, with search.

    The busiest read of the portal: rows come as plain values (no model
    instances), and anonymous answers are cached briefly, keyed by query and language.
    """

    serializer_class = AnnouncementOut
    filter_backends = []

    @extend_schema(
        parameters=[
            inline_serializer(
                "AnnouncementFilter",
                {
                    "kind": serializers.ChoiceField(choices=AnnouncementKind.choices, required=False),
                    "region": serializers.CharField(required=False),
                    "status": serializers.ChoiceField(choices=SectionState.choices, required=False),
                    "q": serializers.CharField(required=False),
                },
            )
        ]
    )
    def get(self, request, *args, **kwargs):
        seconds = settings.ANNOUNCEMENT_CACHE_SECONDS
        if request.user.is_authenticated or not seconds:
            return self.list(request)
        key = "announcements:" + get_language() + ":" + request.get_full_path()
        data = cache.get(key)
        if data is None:
            data = self.list(request).data
            cache.set(key, data, seconds)
        return Response(data)

    def list(self, request, *args, **kwargs):
        # One query for the page and the total (a window count), not two.
        queryset = self.get_queryset().values(*ANNOUNCEMENT_FIELDS.values()).annotate(total=Window(Count("id")))
        paginator = self.paginator
        size = paginator.get_page_size(request)
        try:
            number = max(int(request.query_params.get(paginator.page_query_param, 1)), 1)
        except ValueError:
            number = 1
        page = list(queryset[(number - 1) * size : number * size])
        total = page[0]["total"] if page else queryset.count()
        if not page and number > 1:
            raise NotFound("Invalid page.")
        rows = [{name: row[source] for name, source in ANNOUNCEMENT_FIELDS.items()} for row in page]
        for row in rows:  # stored in UTC, shown in Asia/Shanghai like every other answer
            row["published_at"] = timezone.localtime(row["published_at"]).isoformat()
        url = request.build_absolute_uri()
        return Response(
            {
                "count": total,
                "next": replace_query_param(url, paginator.page_query_param, number + 1) if number * size < total else None,
                "previous": (
                    remove_query_param(url, paginator.page_query_param)
                    if number == 2
                    else replace_query_param(url, paginator.page_query_param, number - 1)
                )
                if number > 1
                else None,
                "results": rows,
            }
        )

    def get_queryset(self):
        params = self.request.query_params
        return selectors.announcements_list(
            user=self.request.user,
            kind=params.get("kind", ""),
            region=params.get("region", ""),
            status=params.get("status", ""),
            query=params.get("q", "").strip(),
        )


class AnnouncementDetail(RetrieveAPIView):
    serializer_class = AnnouncementOut

    def get_queryset(self):
        return selectors.announcements_list(user=self.request.user)


class SectionList(ListAPIView):
    serializer_class = SectionOut
    filterset_fields = ["state", "procedure"]
    search_fields = ["name", "public_id", "project__name"]
    ordering_fields = ["bid_deadline", "published_at", "created_at"]

    def get_queryset(self):
        return selectors.sections_list(user=self.request.user)


class SectionDetailOut(SectionOut):
    documents = serializers.SerializerMethodField()
    announcements = serializers.SerializerMethodField()

    class Meta(SectionOut.Meta):
        fields = [*SectionOut.Meta.fields, "documents", "announcements"]

    def get_documents(self, section) -> list[dict]:
        return DocumentOut(section.documents.all(), many=True).data

    def get_announcements(self, section) -> list[dict]:
        return AnnouncementOut(section.announcements.all(), many=True).data


class SectionDetail(APIView):
    @extend_schema(responses=SectionDetailOut)
    def get(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        return Response(SectionDetailOut(section).data)


class SectionWriteIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    procedure = serializers.ChoiceField(choices=Procedure.choices, required=False)
    estimated_price_fen = serializers.IntegerField(min_value=0, required=False)
    starting_price_fen = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    increment_fen = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    deposit_fen = serializers.IntegerField(min_value=0, required=False)
    documents_issued_at = serializers.DateTimeField(required=False, allow_null=True)
    registration_start = serializers.DateTimeField(required=False)
    registration_end = serializers.DateTimeField(required=False)
    bid_deadline = serializers.DateTimeField(required=False)
    opening_at = serializers.DateTimeField(required=False)
    camera_url = serializers.URLField(required=False, allow_blank=True)


class SectionCreate(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class SectionCreateInput(SectionWriteIn):
        project = serializers.IntegerField()
        public_id = serializers.RegexField(r"^[A-Z0-9-]{4,40}$")
        name = serializers.CharField(max_length=200)
        estimated_price_fen = serializers.IntegerField(min_value=0)

    @extend_schema(request=SectionCreateInput, responses={201: SectionOut})
    def post(self, request):
        data = self.SectionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        project = selectors.projects_list(user=request.user).filter(pk=fields.pop("project")).first()
        if project is None:
            raise NotAllowed("NOT-ALLOWED", "project not found or not yours")
        section = section_services.section_create(actor=request.user, project=project, **fields)
        return Response(SectionOut(section).data, status=status.HTTP_201_CREATED)


class SectionUpdate(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=SectionWriteIn, responses=SectionOut)
    def patch(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = SectionWriteIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        section = section_services.section_update(actor=request.user, section=section, **data.validated_data)
        return Response(SectionOut(section).data)


class SectionPublish(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class SectionPublishInput(serializers.Serializer):
        body = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=SectionPublishInput, responses=SectionOut)
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = self.SectionPublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        section = section_services.section_publish(actor=request.user, section=section, **data.validated_data)
        return Response(SectionOut(section).data)


class SectionClarify(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class SectionClarifyInput(serializers.Serializer):
        title = serializers.CharField(max_length=300)
        body = serializers.CharField()
        new_deadline = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=SectionClarifyInput, responses={201: AnnouncementOut})
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = self.SectionClarifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        announcement = section_services.clarification_issue(actor=request.user, section=section, **data.validated_data)
        return Response(AnnouncementOut(announcement).data, status=status.HTTP_201_CREATED)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class SectionSuspend(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ReasonIn, responses=SectionOut)
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        section = section_services.section_suspend(actor=request.user, section=section, **data.validated_data)
        return Response(SectionOut(section).data)


class SectionResume(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ReasonIn, responses=SectionOut)
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        section = section_services.section_resume(actor=request.user, section=section, **data.validated_data)
        return Response(SectionOut(section).data)


class DocumentUpload(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    class DocumentUploadInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        file = serializers.FileField()

    @extend_schema(request=DocumentUploadInput, responses={201: DocumentOut})
    def post(self, request, public_id):
        section = selectors.section_get(user=request.user, public_id=public_id)
        data = self.DocumentUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = section_services.document_upload(
            actor=request.user, section=section, name=data.validated_data["name"], upload=data.validated_data["file"]
        )
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class DocumentDownload(APIView):
    """Tender documents go to registered bidders and the officials; each bidder download is audited."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, public_id, pk):
        section = selectors.section_get(user=request.user, public_id=public_id)
        if not policy.can_download_documents(request.user, section):
            raise NotAllowed("NOT-REGISTERED", "报名后方可下载招标文件。")
        document = section.documents.filter(pk=pk).first()
        if document is None:
            from django.http import Http404

            raise Http404
        audit_append(
            event=AuditEvent.DOCUMENT_DOWNLOADED,
            actor=request.user,
            section=section,
            data={"document": document.pk, "version": document.version, "at": timezone.now().isoformat()},
        )
        return StreamedFileResponse(document.file.open("rb"), as_attachment=True, filename=document.filename)


class ProjectList(ListAPIView):
    serializer_class = ProjectOut
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return selectors.projects_list(user=self.request.user)


class ProjectCreate(APIView):
    permission_classes = [permissions.IsAuthenticated]

    class ProjectCreateInput(serializers.Serializer):
        code = serializers.RegexField(r"^[A-Z0-9-]{4,32}$")
        name = serializers.CharField(max_length=200)
        transaction_type = serializers.ChoiceField(choices=TransactionType.choices)
        region = serializers.CharField(max_length=64)
        state_funded = serializers.BooleanField(default=True)

    @extend_schema(request=ProjectCreateInput, responses={201: ProjectOut})
    def post(self, request):
        data = self.ProjectCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = section_services.project_create(actor=request.user, **data.validated_data)
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)
