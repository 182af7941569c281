from django.urls import path

from . import views

app_name = "targets"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("plans/load/", views.plan_load, name="plan_load"),
    path("plans/current/", views.my_progress, name="mine"),
    path("<slug:code>/", views.progress_page, name="progress"),
    path("<slug:code>/export/", views.export_xlsx, name="export"),
    path("<slug:code>/dashboard/", views.dashboard, name="dashboard"),
    path("<slug:code>/review/", views.review_page, name="review"),
    path("<slug:code>/forecast/", views.forecast_page, name="forecast"),
    path("<slug:code>/copy/", views.plan_copy, name="plan_copy"),
    path("<slug:code>/targets/", views.plan_targets, name="plan_targets"),
    path(
        "<slug:code>/targets/<slug:metric>/<int:year>/<slug:where>/",
        views.target_edit,
        name="target_edit",
    ),
    path("<slug:code>/district/<slug:district>/", views.district_page, name="district"),
    path("<slug:code>/years/<int:year>/close/", views.close_year, name="close_year"),
    path("<slug:code>/years/<int:year>/reopen/", views.reopen_year, name="reopen_year"),
    path("<slug:code>/<slug:metric>/<int:year>/<slug:where>/", views.drilldown_page, name="drilldown"),
]
