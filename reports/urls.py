from django.urls import path

from reports import compliance_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("compliance/", compliance_views.compliance_summary, name="compliance"),
    path("compliance/matrix/", compliance_views.compliance_matrix, name="compliance_matrix"),
]
