"""Output shapes shared by the API views; what goes in them was already filtered by the policy."""

from rest_framework import serializers

from trading.models import Announcement, Document, Project, Section


class DocumentOut(serializers.ModelSerializer):
    class Meta:
        model = Document
        fields = ["id", "name", "version", "filename", "content_type", "size", "sha256", "uploaded_at"]


class SectionOut(serializers.ModelSerializer):
    project_code = serializers.CharField(source="project.code")
    project_name = serializers.CharField(source="project.name")
    tenderer = serializers.CharField(source="project.tenderer.name")
    transaction_type = serializers.CharField(source="project.transaction_type")
    region = serializers.CharField(source="project.region")

    class Meta:
        model = Section
        fields = [
            "public_id",
            "name",
            "project_code",
            "project_name",
            "tenderer",
            "transaction_type",
            "region",
            "procedure",
            "state",
            "estimated_price_fen",
            "starting_price_fen",
            "increment_fen",
            "deposit_fen",
            "documents_issued_at",
            "registration_start",
            "registration_end",
            "bid_deadline",
            "opening_at",
            "published_at",
            "camera_url",
        ]


class AnnouncementOut(serializers.ModelSerializer):
    section = serializers.CharField(source="section.public_id")
    section_name = serializers.CharField(source="section.name")
    region = serializers.CharField(source="section.project.region")
    transaction_type = serializers.CharField(source="section.project.transaction_type")
    status = serializers.CharField(source="section.state")

    class Meta:
        model = Announcement
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "published_at",
            "section",
            "section_name",
            "region",
            "transaction_type",
            "status",
        ]


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "code", "name", "tenderer", "agency", "transaction_type", "region", "state_funded"]
