from django.urls import path

from cobuild import audit_views

app_name = "audit"

urlpatterns = [
    path("", audit_views.audit_search, name="search"),
]
