from django.contrib import admin

from reports.models import Notification, NotificationPreference


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
