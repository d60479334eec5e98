"""Give an account one of the three administrator roles (三员) from the server's shell.

The security administrator grants roles in the admin; this command is for the first one (and for
recovery), run by whoever operates the server. It keeps the same rules: one administrator role per
account, and a superuser is already the system administrator.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pairings.models import ADMIN_ROLES, Assignment, Organization


class Command(BaseCommand):
    help = "授予账号系统管理员、安全管理员或审计管理员角色（三员分立：每个账号只能担任其一）。"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=[role.value for role in ADMIN_ROLES])
        parser.add_argument(
            "--organization", help="党组织编码（默认：组织树的根，即县委）", default=None
        )

    def handle(self, username, role, organization, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在。")
        if organization:
            org = Organization.objects.filter(code=organization).first()
        else:
            org = Organization.objects.get_root_nodes().filter(deleted_at__isnull=True).first()
        if org is None:
            raise CommandError("找不到党组织：请先建立组织树，或用 --organization 指定编码。")
        grant = Assignment(user=user, organization=org, role=role)
        try:
            grant.full_clean()
        except ValidationError as error:
            raise CommandError("；".join(error.messages)) from None
        with transaction.atomic():
            grant.save()
            if role != Assignment.Role.AUDITOR and not user.is_staff:
                user.is_staff = True  # the admin site lets in staff accounts only
                user.save(update_fields=["is_staff"])
        self.stdout.write(f"已授予 {username} {grant.get_role_display()} 角色（{org}）。")
