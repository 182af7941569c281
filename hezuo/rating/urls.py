from django.urls import path

from hezuo.core import views as generic

from . import views

app_name = "rating"

rating_ui = views.RatingUI()
alert_ui = views.AlertUI()
rubric_ui = views.RubricUI()

urlpatterns = [
    # ratings
    path("", views.RatingListView.as_view(ui=rating_ui), name="rating_list"),
    path("export/", generic.ObjectExportView.as_view(ui=rating_ui), name="rating_export"),
    path("ratings/<int:pk>/", views.RatingDetailView.as_view(ui=rating_ui), name="rating_detail"),
    path("ratings/<int:pk>/history/", views.HistoryView.as_view(ui=rating_ui), name="rating_history"),
    path("ratings/<int:pk>/review/", views.review_rating, name="rating_review"),
    path("confirm/", views.confirm_ratings, name="confirm"),
    path("rerate/", views.rerate_requested, name="rerate"),
    path("missing/", views.missing_list, name="missing"),
    path("cooperatives/<int:pk>/", views.CooperativeRatingView.as_view(ui=rating_ui), name="cooperative"),
    # runs
    path("runs/", views.run_list, name="ratingrun_list"),
    path("runs/<int:pk>/", views.run_detail, name="ratingrun_detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="ratingrun_progress"),
    # rubrics
    path("rubrics/", views.rubric_list, name="rubric_list"),
    path("rubrics/load/", views.rubric_load, name="rubric_load"),
    path("rubrics/diff/", views.rubric_diff, name="rubric_diff"),
    path("rubrics/<int:pk>/", views.RubricDetailView.as_view(ui=rubric_ui), name="rubric_detail"),
    path("rubrics/<int:pk>/edit/", views.rubric_edit, name="rubric_edit"),
    path("rubrics/<int:pk>/copy/", views.rubric_copy, name="rubric_copy"),
    path("rubrics/<int:pk>/publish/", views.rubric_publish, name="rubric_publish"),
    path("rubrics/<int:pk>/yaml/", views.rubric_yaml, name="rubric_yaml"),
    path("rubrics/<int:pk>/history/", views.HistoryView.as_view(ui=rubric_ui), name="rubric_history"),
    # alerts
    path("alerts/", views.AlertListView.as_view(ui=alert_ui), name="alert_list"),
    path("alerts/export/", generic.ObjectExportView.as_view(ui=alert_ui), name="alert_export"),
    path("alerts/<int:pk>/", views.AlertDetailView.as_view(ui=alert_ui), name="alert_detail"),
    path("alerts/<int:pk>/history/", views.HistoryView.as_view(ui=alert_ui), name="alert_history"),
    path("alerts/<int:pk>/<str:action>/", views.alert_action, name="alert_action"),
]
