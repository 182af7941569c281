from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("cases/", views.case_list, name="case_list"),
    path("cases/export/", views.case_export, name="case_export"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/assistance/add/", views.assistance_add, name="assistance_add"),
    path("cases/<int:pk>/<str:transition>/", views.case_transition, name="case_transition"),
    path("cooperatives/<int:pk>/open/", views.case_open, name="case_open"),
    path("items/<int:pk>/", views.item_detail, name="item_detail"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("checklists/<int:pk>/", views.checklist_detail, name="checklist_detail"),
]
