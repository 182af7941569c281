from django.urls import path

from . import views

app_name = "fieldwork"

urlpatterns = [
    path("flags/", views.flag_list, name="flag_list"),
    path("flags/<int:pk>/", views.flag_detail, name="flag_detail"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/<str:transition>/", views.case_transition, name="case_transition"),
    path("cooperatives/<int:pk>/open-case/", views.case_open, name="case_open"),
    path("cooperatives/<int:pk>/visits/add/", views.visit_add, name="visit_add"),
    path("visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:pk>/photo/", views.visit_photo, name="visit_photo"),
    path("my/", views.my_cooperatives, name="my_cooperatives"),
    path("workload/", views.workload, name="workload"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/start/", views.run_start, name="run_start"),
    path("rulesets/", views.ruleset_list, name="ruleset_list"),
    path("rulesets/load/", views.ruleset_load, name="ruleset_load"),
    path("rulesets/diff/", views.ruleset_diff, name="ruleset_diff"),
    path("rulesets/<int:pk>/", views.ruleset_detail, name="ruleset_detail"),
    path("rulesets/<int:pk>/copy/", views.ruleset_copy, name="ruleset_copy"),
    path("rulesets/<int:pk>/edit/", views.ruleset_edit, name="ruleset_edit"),
    path("rulesets/<int:pk>/activate/", views.ruleset_activate, name="ruleset_activate"),
    path("rulesets/<int:pk>/yaml/", views.ruleset_yaml, name="ruleset_yaml"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/add/", views.campaign_add, name="campaign_add"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path("campaigns/<int:pk>/cooperatives/", views.campaign_targets, name="campaign_targets"),
    path("campaigns/<int:pk>/export/", views.campaign_export, name="campaign_export"),
    path("cooperatives/<int:pk>/contacts/add/", views.contact_add, name="contact_add"),
]
