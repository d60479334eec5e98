"""The audit log: who did what, when, from where, and how it ended. Append-only.

Rows never point at other tables (a user's id and name are copied), so deleting a user or a
record never touches them; the database itself refuses to update them, and to delete any row
younger than the retention period (migration 0001's triggers).
"""

from django.db import models
from django.utils import timezone


class AuditEventKind(models.TextChoices):
    LOGIN = "login", "登录"
    LOGOUT = "logout", "退出登录"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOCKOUT = "lockout", "账号锁定"
    TWO_FACTOR = "two_factor", "双因素认证"
    ROLE_CHANGE = "role_change", "角色与范围变更"
    CREATE = "create", "新增"
    CHANGE = "change", "修改"
    DELETE = "delete", "删除"
    TRASH = "trash", "移入回收站"
    RESTORE = "restore", "从回收站恢复"
    PERIOD_UNLOCK = "period_unlock", "期间解锁"
    IMPORT = "import", "导入"
    EXPORT = "export", "导出"
    EVIDENCE_DOWNLOAD = "evidence_download", "下载佐证材料"
    REFUSED = "refused", "拒绝访问"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "成功"
    FAILURE = "failure", "失败"
    REFUSED = "refused", "拒绝"


class AuditEvent(models.Model):
    Kind = AuditEventKind
    Outcome = AuditOutcome

    time = models.DateTimeField("时间", default=timezone.now, db_index=True)
    user_id = models.IntegerField("用户ID", null=True, blank=True)
    username = models.CharField("用户名", max_length=150, blank=True)
    role = models.CharField("角色", max_length=200, blank=True)
    ip_address = models.GenericIPAddressField("地址", null=True, blank=True)
    event = models.CharField("事件", max_length=30, choices=Kind.choices)
    object_type = models.CharField("对象类型", max_length=100, blank=True)
    object_id = models.CharField("对象ID", max_length=64, blank=True)
    object_repr = models.CharField("对象", max_length=200, blank=True)
    outcome = models.CharField(
        "结果", max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    detail = models.JSONField("详情", default=dict, blank=True)

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        indexes = [
            models.Index(fields=["event", "time"], name="auditevent_event_time"),
            models.Index(fields=["username", "time"], name="auditevent_user_time"),
        ]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.username or '匿名'} {self.get_event_display()}"
