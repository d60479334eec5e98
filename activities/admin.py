from django.contrib import admin

from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Inspection,
    InspectionItem,
    InspectionScore,
    Metric,
    Need,
    Outcome,
    Participation,
    PeriodFigure,
    PeriodUnlock,
    Rectification,
    Regime,
    RegimeCadence,
)
from cobuild.admin_tools import HistoryAdmin, KeptRecordAdmin, TrashAdmin


class RegimeCadenceInline(admin.TabularInline):
    model = RegimeCadence
    extra = 0


@admin.register(Regime)
class RegimeAdmin(KeptRecordAdmin):
    list_display = ["name", "code", "short_name", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name", "code"]
    inlines = [RegimeCadenceInline]


@admin.register(RegimeCadence)
class RegimeCadenceAdmin(HistoryAdmin):
    list_display = ["regime", "valid_from", "cadence", "required"]
    list_filter = ["regime", "cadence"]
    search_fields = ["regime__name"]
    autocomplete_fields = ["regime"]


@admin.register(Metric)
class MetricAdmin(KeptRecordAdmin):
    list_display = ["name", "unit", "aggregation", "style", "max_value", "order", "is_active"]
    list_filter = ["aggregation", "style", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name", "code"]


class ParticipationInline(admin.TabularInline):
    model = Participation
    extra = 0
    autocomplete_fields = ["member"]


class OutcomeInline(admin.TabularInline):
    model = Outcome
    extra = 0


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fk_name = "activity"
    fields = ["kind", "file", "original_name", "content_type", "size", "uploaded_at"]
    readonly_fields = ["original_name", "content_type", "size", "uploaded_at"]
    extra = 0


@admin.register(Activity)
class ActivityAdmin(TrashAdmin):
    ordering = ["-date", "-pk"]
    list_display = ["title", "date", "pairing", "regime", "category", "status", "on_time"]
    list_filter = ["status", "regime", "category", "on_time"]
    search_fields = [
        "title",
        "place",
        "pairing__code",
        "pairing__helper__name",
        "pairing__helped__name",
    ]
    autocomplete_fields = [
        "pairing",
        "logged_by_branch",
        "on_behalf_by",
        "created_by",
        "confirmed_by",
    ]
    list_select_related = ["pairing__helper", "pairing__helped", "regime"]
    date_hierarchy = "date"
    inlines = [ParticipationInline, OutcomeInline, EvidenceInline]
    readonly_fields = ["created_at", "version", "client_id"]


@admin.register(Participation)
class ParticipationAdmin(HistoryAdmin):
    list_display = ["activity", "member"]
    search_fields = ["activity__title", "member__name"]
    autocomplete_fields = ["activity", "member"]
    list_select_related = ["activity", "member"]


@admin.register(Outcome)
class OutcomeAdmin(HistoryAdmin):
    list_display = ["activity", "metric", "value"]
    list_filter = ["metric"]
    search_fields = ["activity__title"]
    autocomplete_fields = ["activity", "metric"]
    list_select_related = ["activity", "metric"]


@admin.register(PeriodFigure)
class PeriodFigureAdmin(HistoryAdmin):
    list_display = ["organization", "metric", "period", "value"]
    list_filter = ["metric"]
    search_fields = ["organization__name", "period"]
    autocomplete_fields = ["organization", "metric", "entered_by"]
    list_select_related = ["organization", "metric"]


@admin.register(PeriodUnlock)
class PeriodUnlockAdmin(KeptRecordAdmin):
    list_display = ["branch", "period", "unlocked_by", "unlocked_at", "until"]
    search_fields = ["branch__name", "period"]
    autocomplete_fields = ["branch", "unlocked_by"]
    list_select_related = ["branch", "unlocked_by"]


@admin.register(Evidence)
class EvidenceAdmin(HistoryAdmin):
    list_display = ["__str__", "kind", "activity", "content_type", "size", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["original_name", "activity__title"]
    autocomplete_fields = ["activity", "commitment", "rectification", "uploaded_by"]


@admin.register(InspectionItem)
class InspectionItemAdmin(HistoryAdmin):
    list_display = ["name", "max_score", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name"]


class InspectionScoreInline(admin.TabularInline):
    model = InspectionScore
    extra = 0


class RectificationInline(admin.TabularInline):
    model = Rectification
    extra = 0
    autocomplete_fields = ["owner"]
    exclude = ["deleted_at", "deleted_by"]


@admin.register(Inspection)
class InspectionAdmin(TrashAdmin):
    ordering = ["-year", "pk"]
    list_display = ["__str__", "pairing", "year", "date", "satisfaction"]
    list_filter = ["year", "satisfaction"]
    search_fields = ["pairing__code", "inspector__name", "inspected__name"]
    autocomplete_fields = ["pairing", "activity", "inspector", "inspected"]
    list_select_related = ["pairing__helper", "pairing__helped", "inspector", "inspected"]
    inlines = [InspectionScoreInline, RectificationInline]


@admin.register(InspectionScore)
class InspectionScoreAdmin(HistoryAdmin):
    list_display = ["inspection", "item", "score"]
    search_fields = ["item__name"]
    autocomplete_fields = ["inspection", "item"]


@admin.register(Rectification)
class RectificationAdmin(TrashAdmin):
    ordering = ["due_date", "pk"]
    list_display = ["__str__", "inspection", "owner", "due_date", "status"]
    list_filter = ["status"]
    search_fields = ["description", "owner__name"]
    autocomplete_fields = ["inspection", "owner"]
    list_select_related = ["inspection__inspector", "inspection__inspected", "owner"]
    date_hierarchy = "due_date"


@admin.register(Need)
class NeedAdmin(TrashAdmin):
    ordering = ["-raised_on", "-pk"]
    list_display = ["title", "pairing", "raised_by", "raised_on", "status"]
    list_filter = ["status"]
    search_fields = ["title", "pairing__code"]
    autocomplete_fields = ["pairing", "raised_by", "source_activity"]
    list_select_related = ["pairing__helper", "pairing__helped", "raised_by"]


@admin.register(Commitment)
class CommitmentAdmin(TrashAdmin):
    ordering = ["due_date", "pk"]
    list_display = ["title", "pairing", "amount", "due_date", "status"]
    list_filter = ["status"]
    search_fields = ["title", "pairing__code"]
    autocomplete_fields = ["pairing", "need"]
    list_select_related = ["pairing__helper", "pairing__helped"]
    date_hierarchy = "due_date"
