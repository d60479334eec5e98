from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from cobuild.admin_tools import HistoryAdmin, TrashAdmin
from pairings.models import (
    Assignment,
    HelpPairing,
    Household,
    HouseholdVisit,
    Member,
    Organization,
    Pairing,
    PairingSuspension,
)


@admin.register(Organization)
class OrganizationAdmin(TrashAdmin, TreeAdmin):
    form = movenodeform_factory(Organization, fields=["code", "name", "kind", "sector"])
    list_display = ["name", "code", "kind", "sector"]
    list_filter = ["kind", "sector"]
    search_fields = ["name", "code"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    autocomplete_fields = ["organization"]


@admin.register(Member)
class MemberAdmin(TrashAdmin):
    ordering = ["code"]
    list_display = ["name", "code", "branch", "post", "in_service", "status", "masked_phone"]
    list_filter = ["post", "in_service", "status", "gender"]
    search_fields = ["name", "code", "branch__name"]
    autocomplete_fields = ["branch"]
    list_select_related = ["branch"]

    @admin.display(description="联系电话")
    def masked_phone(self, obj):
        return obj.masked_phone


class HelpPairingInline(admin.TabularInline):
    model = HelpPairing
    extra = 0
    autocomplete_fields = ["member"]
    exclude = ["deleted_at", "deleted_by"]


@admin.register(Household)
class HouseholdAdmin(TrashAdmin):
    ordering = ["village__path", "head_name", "pk"]
    list_display = ["head_name", "village", "group", "size"]
    search_fields = ["head_name", "village__name"]
    autocomplete_fields = ["village"]
    list_select_related = ["village"]
    inlines = [HelpPairingInline]


class HouseholdVisitInline(admin.TabularInline):
    model = HouseholdVisit
    extra = 0
    exclude = ["deleted_at", "deleted_by"]
    autocomplete_fields = ["created_by"]


@admin.register(HouseholdVisit)
class HouseholdVisitAdmin(TrashAdmin):
    ordering = ["-date", "-pk"]
    list_display = ["date", "help_pairing", "help_given"]
    search_fields = ["help_pairing__member__name", "help_pairing__household__head_name", "summary"]
    autocomplete_fields = ["help_pairing", "created_by"]
    list_select_related = ["help_pairing__member", "help_pairing__household__village"]
    date_hierarchy = "date"


@admin.register(HelpPairing)
class HelpPairingAdmin(TrashAdmin):
    ordering = ["-start_date", "pk"]
    list_display = ["member", "household", "start_date", "end_date"]
    search_fields = ["member__name", "household__head_name"]
    autocomplete_fields = ["member", "household"]
    list_select_related = ["member", "household__village"]
    date_hierarchy = "start_date"
    inlines = [HouseholdVisitInline]


class PairingSuspensionInline(admin.TabularInline):
    model = PairingSuspension
    extra = 0


@admin.register(PairingSuspension)
class PairingSuspensionAdmin(HistoryAdmin):
    ordering = ["-start_date", "pk"]
    list_display = ["pairing", "start_date", "end_date", "reason"]
    search_fields = ["pairing__code", "pairing__helper__name", "pairing__helped__name", "reason"]
    autocomplete_fields = ["pairing"]
    list_select_related = ["pairing__helper", "pairing__helped"]


@admin.register(Pairing)
class PairingAdmin(TrashAdmin):
    inlines = [PairingSuspensionInline]
    ordering = ["code"]
    list_display = ["code", "helper", "helped", "start_date", "end_date", "status"]
    list_filter = ["status", "helper__sector", "helped__sector"]
    search_fields = ["code", "helper__name", "helped__name"]
    autocomplete_fields = ["helper", "helped", "helper_liaison", "helped_liaison"]
    list_select_related = ["helper", "helped"]
    date_hierarchy = "start_date"
    fieldsets = [
        (None, {"fields": ["code", "helper", "helped", "start_date", "end_date", "status"]}),
        ("联络员", {"fields": ["helper_liaison", "helped_liaison"]}),
        ("协议与目标", {"fields": ["agreement", "agreement_file", "goals"]}),
        ("回收站", {"fields": ["deleted_at", "deleted_by"], "classes": ["collapse"]}),
    ]


@admin.register(Assignment)
class AssignmentAdmin(HistoryAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    list_select_related = ["user", "organization"]


admin.site.unregister(User)


@admin.register(User)
class CobuildUserAdmin(UserAdmin):
    inlines = [AssignmentInline]
