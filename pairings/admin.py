from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from cobuild import security
from cobuild.admin_tools import HistoryAdmin, TrashAdmin
from pairings import access
from pairings.models import (
    ADMIN_ROLES,
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


class RoleGrantRules:
    """Roles and scopes are granted and withdrawn by the security administrator only (not by the
    system administrator, not by a superuser), and nobody changes their own (三员分立)."""

    def _may_grant(self, request, user=None):
        if not access.is_security_admin(request.user):
            return False
        return user is None or user.pk != request.user.pk

    def _target(self, obj):
        if obj is None:
            return None
        return obj if isinstance(obj, User) else obj.user

    def has_add_permission(self, request, obj=None):
        return self._may_grant(request, self._target(obj)) and super().has_add_permission(
            request, *([obj] if isinstance(self, admin.options.InlineModelAdmin) else [])
        )

    def has_change_permission(self, request, obj=None):
        return self._may_grant(request, self._target(obj)) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return self._may_grant(request, self._target(obj)) and super().has_delete_permission(
            request, obj
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or access.is_system_admin(request.user)


class AssignmentForm(forms.ModelForm):
    acting_user = None

    class Meta:
        model = Assignment
        fields = ["user", "organization", "role"]

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None and self.acting_user is not None and user.pk == self.acting_user.pk:
            raise ValidationError({"user": "不能给自己分配或修改角色。"})
        return cleaned


class AssignmentInline(RoleGrantRules, admin.TabularInline):
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
class AssignmentAdmin(RoleGrantRules, HistoryAdmin):
    form = AssignmentForm
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    list_select_related = ["user", "organization"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"acting_user": request.user})


class IssuedPasswordChangeForm(AdminPasswordChangeForm):
    """A password an administrator sets is an initial password: changed at the next sign-in."""

    def save(self, commit=True):
        user = super().save(commit)
        if commit:
            security.issue_password(user)
        return user


class CobuildUserChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_superuser") and self.instance.pk:
            held = set(
                Assignment.objects.filter(user=self.instance, role__in=ADMIN_ROLES)
                .exclude(role=Assignment.Role.SYSTEM_ADMIN)
                .values_list("role", flat=True)
            )
            if held:
                raise ValidationError(
                    {"is_superuser": "该用户已是安全管理员或审计管理员，不能再兼任系统管理员。"}
                )
        return cleaned


admin.site.unregister(User)


@admin.register(User)
class CobuildUserAdmin(UserAdmin):
    inlines = [AssignmentInline]
    form = CobuildUserChangeForm
    change_password_form = IssuedPasswordChangeForm

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            # Nobody changes their own role or powers.
            fields += ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]
        return fields

    def _guards_another_duty(self, request, obj):
        """The security and audit administrators' accounts (password, powers, deletion) are out
        of the system administrator's reach: otherwise the system administrator could reset
        them and take their duties over."""
        return (
            obj is not None
            and obj.pk != request.user.pk
            and bool(
                Assignment.objects.filter(
                    user=obj, role__in=[Assignment.Role.SECURITY_ADMIN, Assignment.Role.AUDITOR]
                ).exists()
            )
        )

    def has_change_permission(self, request, obj=None):
        if self._guards_another_duty(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._guards_another_duty(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.has_usable_password():
            security.issue_password(obj)


# Login lockouts are the security administrator's (a superuser's blanket permissions do not
# reach them): re-register axes' pages with that rule.
def _security_admin_only(model_admin_class):
    class SecurityAdminOnly(model_admin_class):
        def has_module_permission(self, request):
            return access.is_security_admin(request.user)

        def has_view_permission(self, request, obj=None):
            return access.is_security_admin(request.user) and super().has_view_permission(
                request, obj
            )

        def has_change_permission(self, request, obj=None):
            return access.is_security_admin(request.user) and super().has_change_permission(
                request, obj
            )

        def has_delete_permission(self, request, obj=None):
            return access.is_security_admin(request.user) and super().has_delete_permission(
                request, obj
            )

    SecurityAdminOnly.__name__ = model_admin_class.__name__
    return SecurityAdminOnly


for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(_model):
        _registered = type(admin.site._registry[_model])
        admin.site.unregister(_model)
        admin.site.register(_model, _security_admin_only(_registered))
