from django.urls import path

from activities import evidence_views, pairing_views, views, views_inspections

app_name = "activities"

urlpatterns = [
    path("", views.activity_list, name="list"),
    path("new/", views.activity_new, name="new"),
    path("trash/", views.trash_list, name="trash"),
    path("<int:pk>/", views.activity_detail, name="detail"),
    path("<int:pk>/edit/", views.activity_edit, name="edit"),
    path("<int:pk>/submit/", views.activity_submit, name="submit"),
    path("<int:pk>/confirm/", views.activity_confirm, name="confirm"),
    path("<int:pk>/return/", views.activity_return, name="return"),
    path("<int:pk>/trash/", views.activity_trash, name="move_to_trash"),
    path("<int:pk>/restore/", views.activity_restore, name="restore"),
    path("unlock/", views.unlock_new, name="unlock"),
    path("evidence/<int:pk>/", evidence_views.evidence_file, name="evidence_file"),
    path(
        "evidence/<int:pk>/thumbnail/", evidence_views.evidence_thumbnail, name="evidence_thumbnail"
    ),
    path("pairings/", pairing_views.pairing_list, name="pairings"),
    path("needs/", pairing_views.need_list, name="need_list"),
    path("pairings/<int:pk>/", pairing_views.pairing_detail, name="pairing"),
    path("pairings/<int:pk>/needs/new/", pairing_views.need_new, name="need_new"),
    path("pairings/<int:pk>/commitments/new/", pairing_views.commitment_new, name="commitment_new"),
    path(
        "commitments/<int:pk>/progress/",
        pairing_views.commitment_progress,
        name="commitment_progress",
    ),
    path("help/", pairing_views.help_list, name="help_list"),
    path("help/<int:pk>/", pairing_views.help_detail, name="help_detail"),
    path(
        "pairings/<int:pk>/inspections/new/",
        views_inspections.inspection_new,
        name="inspection_new",
    ),
    path("inspections/<int:pk>/", views_inspections.inspection_detail, name="inspection_detail"),
    path("rectifications/", views_inspections.rectification_list, name="rectification_list"),
    path(
        "rectifications/<int:pk>/",
        views_inspections.rectification_update,
        name="rectification_update",
    ),
]
