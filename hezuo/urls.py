from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from hezuo.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(success_url="/"),
        name="password_change",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("registry/", include("hezuo.registry.urls")),
    path("accounts/", include("hezuo.accounts.urls")),
    path("core/", include("hezuo.core.urls")),
    path("rating/", include("hezuo.rating.urls")),
    path("transfer/", include("hezuo.transfer.urls")),
    path("targets/", include("hezuo.targets.urls")),
    path("fieldwork/", include("hezuo.fieldwork.urls")),
    path("compliance/", include("hezuo.compliance.urls")),
    path("api/", include("hezuo.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="core/redoc.html"),
        name="api-redoc",
    ),
    path("admin/", admin.site.urls),
]
