from django.urls import path

from . import views

app_name = "transfer"

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("new/", views.upload, name="upload"),
    path("<int:pk>/", views.job_detail, name="job_detail"),
    path("<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("<int:pk>/mapping/", views.job_mapping, name="job_mapping"),
    path("<int:pk>/commit/", views.job_commit, name="job_commit"),
    path("<int:pk>/errors.xlsx", views.job_errors, name="job_errors"),
    path("template/<slug:kind>.xlsx", views.template, name="template"),
    path("export/<slug:kind>/", views.export, name="export"),
]
