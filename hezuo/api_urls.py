"""One REST router for every app: each app's api.py registers its viewsets here."""

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from hezuo.accounts.api import register as register_accounts
from hezuo.compliance.api import register as register_compliance
from hezuo.fieldwork.api import register as register_fieldwork
from hezuo.geo.api import register as register_geo
from hezuo.rating.api import register as register_rating
from hezuo.registry.api import register as register_registry
from hezuo.targets.api import register as register_targets
from hezuo.transfer.api import register as register_transfer

router = DefaultRouter()
register_geo(router)
register_registry(router)
register_accounts(router)
register_rating(router)
register_transfer(router)
register_targets(router)
register_fieldwork(router)
register_compliance(router)

urlpatterns = [
    path("token/", obtain_auth_token, name="api-token"),
    *router.urls,
]
