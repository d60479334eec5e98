from django.contrib import admin

from cobuild.admin_tools import TrashAdmin
from reports.models import Notification, NotificationPreference, ReportVersion, SituationReport


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Reminders as sent: for answering "did I get told?"; users mark them read themselves."""

    list_display = ["title", "user", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["title", "user__username", "user__last_name", "user__first_name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "read_at", "emailed_at"]
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email"]
    list_filter = ["email"]
    search_fields = ["user__username", "user__last_name", "user__first_name"]
    autocomplete_fields = ["user"]


class ReportVersionInline(admin.TabularInline):
    """A report's versions, read only: they are added by the report pages and never changed."""

    model = ReportVersion
    fields = ["number", "kind", "note", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SituationReport)
class SituationReportAdmin(TrashAdmin):
    """Situation reports are written on their own pages; the admin lists them and restores them."""

    list_display = ["title", "organization", "start", "end", "created_by", "created_at"]
    search_fields = ["title", "organization__name"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["created_by", "created_at"]
    list_select_related = ["organization", "created_by"]
    date_hierarchy = "created_at"
    inlines = [ReportVersionInline]
