from django.urls import path

from hezuo.core import views as generic

from . import views

app_name = "accounts"

user_ui = views.UserUI()
urlpatterns = [
    path("users/", generic.ObjectListView.as_view(ui=user_ui), name="user_list"),
    path("users/export/", generic.ObjectExportView.as_view(ui=user_ui), name="user_export"),
    path("users/add/", generic.ObjectEditView.as_view(ui=user_ui), name="user_add"),
    path("users/<int:pk>/", generic.ObjectDetailView.as_view(ui=user_ui), name="user_detail"),
    path("users/<int:pk>/edit/", generic.ObjectEditView.as_view(ui=user_ui), name="user_edit"),
    path("users/<int:pk>/history/", generic.ObjectHistoryView.as_view(ui=user_ui), name="user_history"),
    *views.CounselorAssignmentUI().urls(),
]
