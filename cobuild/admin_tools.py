"""Admin pieces shared by the apps: history on every page, and a trash instead of delete."""

from django.contrib import admin, messages
from django.db import IntegrityError, transaction
from simple_history.admin import SimpleHistoryAdmin


class TrashFilter(admin.SimpleListFilter):
    title = "回收站"
    parameter_name = "trash"

    def lookups(self, request, model_admin):
        return [("no", "正常"), ("yes", "回收站中")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class HistoryAdmin(SimpleHistoryAdmin):
    """Every change is kept: the admin shows who changed what and when."""


class KeptRecordAdmin(HistoryAdmin):
    """Records that are never deleted from the admin (regimes, metrics, unlocks)."""

    def has_delete_permission(self, request, obj=None):
        return False


class TrashAdmin(KeptRecordAdmin):
    """Records go to a trash and come back from it; the admin never hard-deletes them."""

    actions = ["move_to_trash", "restore_from_trash"]

    def get_list_filter(self, request):
        return [TrashFilter, *super().get_list_filter(request)]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "deleted_at", "deleted_by"]

    @admin.action(description="移入回收站", permissions=["change"])
    def move_to_trash(self, request, queryset):
        count = 0
        for obj in queryset.filter(deleted_at__isnull=True):
            obj.trash(by=request.user)
            count += 1
        self.message_user(request, f"已将 {count} 条记录移入回收站，可随时恢复。", messages.SUCCESS)

    @admin.action(description="从回收站恢复", permissions=["change"])
    def restore_from_trash(self, request, queryset):
        count, clashes = 0, []
        for obj in queryset.filter(deleted_at__isnull=False):
            try:
                with transaction.atomic():
                    obj.restore(by=request.user)
            except IntegrityError:
                clashes.append(str(obj))
                continue
            count += 1
        self.message_user(request, f"已恢复 {count} 条记录。", messages.SUCCESS)
        if clashes:
            self.message_user(
                request,
                f"以下记录与现有记录冲突，未能恢复：{'；'.join(clashes)}。",
                messages.ERROR,
            )
