"""The user's own reminders: the list (newest first), marking them read, email on or off."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cobuild.pagination import keyset_page
from pairings import access
from reports.models import Notification, NotificationPreference

PAGE_SIZE = 30


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["email"]
        labels = {"email": "同时用邮件提醒我"}


@require_http_methods(["GET", "POST"])
def notification_list(request):
    """The list of reminders, with the email preference form (POST saves it)."""
    user = request.user
    preference = NotificationPreference.objects.filter(user=user).first()
    preference = preference or NotificationPreference(user=user)
    if request.method == "POST":
        form = PreferenceForm(request.POST, instance=preference)
        if form.is_valid():
            form.save()
            messages.success(
                request,
                "已开启邮件提醒。" if preference.email else "已关闭邮件提醒，站内提醒照常保留。",
            )
            return redirect("notifications")
    else:
        form = PreferenceForm(instance=preference)
    # Newest first in keyset pages: reminders are never deleted, so one user's list only grows.
    page = keyset_page(
        Notification.objects.filter(user=user),
        request,
        ordering=("-created_at", "-pk"),
        size=PAGE_SIZE,
        counted=False,
    )
    return render(request, "reports/notification_list.html", {"page": page, "form": form})


@require_POST
def notification_read(request, pk):
    """Mark one of the user's own reminders read (someone else's is a 404)."""
    notification = access.get_in_scope(
        request.user, Notification.objects.filter(user=request.user), pk=pk
    )
    Notification.objects.filter(pk=notification.pk).mark_read()
    return redirect("notifications")


@require_POST
def notifications_read_all(request):
    count = Notification.objects.filter(user=request.user).mark_read()
    messages.success(request, f"已将 {count} 条提醒标为已读。" if count else "没有未读的提醒。")
    return redirect("notifications")
