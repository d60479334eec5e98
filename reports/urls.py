from django.urls import path

from reports import (
    compliance_views,
    import_views,
    notification_views,
    report_views,
    setup_views,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("setup/", setup_views.checklist, name="setup"),
    path("setup/regimes/", setup_views.regimes, name="setup_regimes"),
    path("setup/metrics/", setup_views.metrics, name="setup_metrics"),
    path("setup/accounts/", setup_views.accounts, name="setup_accounts"),
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

urlpatterns += [
    path("reports/pairings/<int:pk>/", views.pairing_card, name="pairing_card"),
]

urlpatterns += [
    path("reports/", report_views.report_list, name="report_list"),
    path("reports/new/", report_views.report_new, name="report_new"),
    path("reports/<int:pk>/", report_views.report_detail, name="report_detail"),
    path("reports/<int:pk>/edit/", report_views.report_edit, name="report_edit"),
    path("reports/<int:pk>/refresh/", report_views.report_refresh, name="report_refresh"),
    path("reports/<int:pk>/versions/", report_views.report_versions, name="report_versions"),
    path("reports/<int:pk>/print/", report_views.report_print, name="report_print"),
    path("reports/<int:pk>/export/<str:fmt>/", report_views.report_export, name="report_export"),
    path("reports/<int:pk>/trash/", report_views.report_trash, name="report_trash"),
    path("reports/<int:pk>/restore/", report_views.report_restore, name="report_restore"),
]

urlpatterns += [
    path("ledger/", import_views.import_home, name="import_home"),
    path("ledger/template/", import_views.import_template, name="import_template"),
    path("ledger/export/", import_views.export_ledger, name="export_ledger"),
    path("ledger/upload/", import_views.import_upload, name="import_upload"),
    path("ledger/confirm/", import_views.import_confirm, name="import_confirm"),
    path("ledger/errors/<str:digest>/", import_views.import_errors, name="import_errors"),
    path("ledger/runs/<int:pk>/", import_views.import_result, name="import_result"),
]
