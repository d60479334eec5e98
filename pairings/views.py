"""The organization and member rosters (组织、党员名册): scoped lists with filters and exports."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cobuild.pagination import bounded_page, filter_query, keyset_page
from cobuild.xlsx import list_export
from pairings import access
from pairings.models import Member, Organization

PAGE_SIZE = 50


def _require_roster_reader(user):
    """County staff, supervisors and viewers read the rosters of what lies under them."""
    if not access.scope_of(user).read_paths:
        raise PermissionDenied("只有县委组织部、上级党组织和领导可以查看组织和党员名册。")


def _query(request):
    return filter_query(request).urlencode()


class OrganizationFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, max_length=100)
    kind = forms.ChoiceField(
        label="组织类别",
        required=False,
        choices=[("", "全部类别"), *Organization.Kind.choices],
    )
    sector = forms.ChoiceField(
        label="所属领域",
        required=False,
        choices=[("", "全部领域"), *Organization.Sector.choices],
    )

    def apply(self, organizations):
        if not self.is_bound:
            return organizations
        if not self.is_valid():
            return organizations.none()
        data = self.cleaned_data
        if data["q"]:
            organizations = organizations.filter(
                Q(name__icontains=data["q"]) | Q(code__icontains=data["q"])
            )
        for field in ("kind", "sector"):
            if data[field]:
                organizations = organizations.filter(**{field: data[field]})
        return organizations


def _with_parents(organizations):
    """[(organization, parent name)] with every parent read in one query."""
    organizations = list(organizations)
    step = Organization.steplen
    parent_paths = {o.path[:-step] for o in organizations if o.depth > 1}
    names = dict(Organization.objects.filter(path__in=parent_paths).values_list("path", "name"))
    return [(o, names.get(o.path[:-step], "")) for o in organizations]


@require_GET
def organization_list(request):
    _require_roster_reader(request.user)
    filters = OrganizationFilterForm(request.GET or None)
    found = filters.apply(access.visible_organizations(request.user))
    # Each listed organization's members, counted in a subquery per row: a join and GROUP BY
    # would count the members of every organization in scope before the page takes 50.
    members = (
        Member.objects.alive()
        .filter(branch=OuterRef("pk"))
        .order_by()
        .values("branch")
        .annotate(n=Count("pk"))
        .values("n")
    )
    organizations = found.annotate(member_count=Coalesce(Subquery(members), 0)).order_by("path")
    if request.GET.get("export") == "xlsx":
        return list_export(
            request,
            what="organizations",
            title="党组织",
            headers=["组织编码", "组织名称", "组织类别", "所属领域", "上级党组织", "党员人数"],
            rows=(
                [
                    o.code,
                    o.name,
                    o.get_kind_display(),
                    o.get_sector_display(),
                    parent,
                    o.member_count,
                ]
                for o, parent in _with_parents(organizations)
            ),
        )
    # In the tree's order: the (unique) path is the keyset pages' cursor.
    page = keyset_page(
        organizations, request, ordering=("path",), size=PAGE_SIZE, count_queryset=found
    )
    return render(
        request,
        "pairings/organization_list.html",
        {
            "filters": filters,
            "page": page,
            "rows": _with_parents(page.object_list),
            "query": _query(request),
        },
    )


class MemberFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, max_length=100)
    branch = forms.ModelChoiceField(
        label="所在支部", queryset=None, required=False, empty_label="全部支部"
    )
    post = forms.ChoiceField(
        label="党内职务", required=False, choices=[("", "全部职务"), *Member.Post.choices]
    )
    status = forms.ChoiceField(
        label="党员状态", required=False, choices=[("", "全部"), *Member.Status.choices]
    )
    in_service = forms.ChoiceField(
        label="在职党员", required=False, choices=[("", "全部"), ("yes", "是"), ("no", "否")]
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = (
            access.visible_organizations(user).branches().order_by("path")
        )

    def apply(self, members):
        if not self.is_bound:
            return members
        if not self.is_valid():
            return members.none()
        data = self.cleaned_data
        if data["q"]:
            members = members.filter(Q(name__icontains=data["q"]) | Q(code__icontains=data["q"]))
        if data["branch"]:
            members = members.filter(branch=data["branch"])
        for field in ("post", "status"):
            if data[field]:
                members = members.filter(**{field: data[field]})
        if data["in_service"]:
            members = members.filter(in_service=data["in_service"] == "yes")
        return members


@require_GET
def member_list(request):
    user = request.user
    _require_roster_reader(user)
    filters = MemberFilterForm(request.GET or None, user=user)
    members = filters.apply(access.visible_members(user)).order_by("branch__path", "name", "pk")
    if request.GET.get("export") == "xlsx":
        return list_export(
            request,
            what="members",
            title="党员",
            headers=[
                "党员编号",
                "姓名",
                "性别",
                "所在支部",
                "党内职务",
                "在职党员",
                "党员状态",
                "联系电话",
            ],
            rows=(
                [
                    m.code,
                    m.name,
                    m.get_gender_display(),
                    m.branch.name,
                    m.get_post_display(),
                    m.in_service,
                    m.get_status_display(),
                    access.phone_for(user, m),
                ]
                for m in members
            ),
        )
    # By branch, then name: the order runs through a join, so no cursor but numbered pages over
    # a bounded count (a branch or a name in the filters narrows a long roster).
    page = bounded_page(members, request, size=PAGE_SIZE)
    return render(
        request,
        "pairings/member_list.html",
        {
            "filters": filters,
            "page": page,
            "rows": [(m, access.phone_for(user, m)) for m in page.object_list],
            "query": _query(request),
        },
    )
