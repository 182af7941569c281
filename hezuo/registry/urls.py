from django.urls import path

from . import views

app_name = "registry"

cooperative_ui = views.CooperativeUI()
urlpatterns = [
    # the cooperative page has its own detail view (tabs); the rest is generic
    path(
        "cooperatives/<int:pk>/",
        views.CooperativeDetailView.as_view(ui=cooperative_ui),
        name="cooperative_detail",
    ),
    *cooperative_ui.urls(),
    *views.YearlyFactUI().urls(),
    *views.DemonstrationTitleUI().urls(),
    *views.FederationMembershipUI().urls(),
    *views.SponsorshipUI().urls(),
    *views.OrganizationUI().urls(),
]
