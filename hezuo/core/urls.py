from django.urls import path

from . import views_admin

app_name = "core"

urlpatterns = [
    path("changes/", views_admin.change_list, name="change_list"),
]
