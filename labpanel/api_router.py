"""The v1 API router: every resource under /api/v1/."""

from rest_framework.routers import APIRootView, DefaultRouter

from labpanel.accounts.scopes import RESULTS_READ
from labpanel.audit.api import ReadEntryViewSet
from labpanel.webhooks.api import DeliveryViewSet, SubscriptionViewSet
from panels.intake.api import PanelViewSet
from panels.intake.imports.views import ImportJobViewSet
from panels.ruleset_views import RulesetViewSet  # the rule-set API with its impact preview
from reports.views import ReportViewSet


class ScopedAPIRootView(APIRootView):
    """The API's root (links to each resource), open to tokens that may read results."""

    required_scope = RESULTS_READ


class ScopedRouter(DefaultRouter):
    APIRootView = ScopedAPIRootView


router = ScopedRouter()
router.register("panels", PanelViewSet, basename="panel")
router.register("imports", ImportJobViewSet, basename="import")
router.register("reports", ReportViewSet, basename="report")
router.register("rulesets", RulesetViewSet, basename="ruleset")
router.register("audit/reads", ReadEntryViewSet, basename="audit-read")
router.register("webhooks/subscriptions", SubscriptionViewSet, basename="webhook-subscription")
router.register("webhooks/deliveries", DeliveryViewSet, basename="webhook-delivery")
