from django.urls import path

from reports import compliance_views, notification_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("compliance/", compliance_views.compliance_summary, name="compliance"),
    path("compliance/matrix/", compliance_views.compliance_matrix, name="compliance_matrix"),
]

urlpatterns += [
    path("notifications/", notification_views.notification_list, name="notifications"),
    path(
        "notifications/<int:pk>/read/",
        notification_views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        notification_views.notifications_read_all,
        name="notifications_read_all",
    ),
]
