from django.urls import path

from pairings import views

app_name = "pairings"

urlpatterns = [
    path("organizations/", views.organization_list, name="organizations"),
    path("members/", views.member_list, name="members"),
]
