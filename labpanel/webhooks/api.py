"""The webhooks API under ``/api/v1/webhooks/``: subscriptions (register, list, read, stop) and
deliveries (list, with ``?state=dead`` the dead letters, each with its attempts; replay one).

Only a lab's integrators and directors, their own lab's (``access.webhooks_lab`` /
``access.webhooks_scope``); anyone else is answered 403, and another lab's rows 404. Thin:
validate, call the service, serialize.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.models import TokenScope
from labpanel.idempotency.views import IdempotentPosts
from labpanel.webhooks.models import (
    SUBSCRIBABLE_KINDS,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Subscription,
)
from labpanel.webhooks.services import (
    delivery_replay,
    subscription_create,
    subscription_deactivate,
)


class _WebhooksViewSet(IdempotentPosts, viewsets.GenericViewSet[Any]):
    # the token scope these endpoints need (read by the token-scope check)
    required_scope = TokenScope.WEBHOOKS_RECEIVE.value

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        access.webhooks_lab(request.user)  # 403 for anyone but the lab's integrators, directors


class SubscriptionInput(serializers.Serializer[Any]):
    url = serializers.URLField(max_length=500)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=[kind.value for kind in SUBSCRIBABLE_KINDS]),
        min_length=1,
        max_length=len(SUBSCRIBABLE_KINDS),
    )


class SubscriptionOutput(serializers.ModelSerializer[Subscription]):
    kinds = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Subscription
        fields: tuple[str, ...] = ("id", "lab_id", "url", "kinds", "is_active", "created_at")
        read_only_fields: tuple[str, ...] = fields


class SubscriptionCreated(SubscriptionOutput):
    secret = serializers.CharField(
        help_text="The signing secret (Standard Webhooks, whsec_...): shown only in this answer"
    )

    class Meta(SubscriptionOutput.Meta):
        fields = (*SubscriptionOutput.Meta.fields, "secret")
        read_only_fields = fields


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _WebhooksViewSet):
    serializer_class = SubscriptionOutput
    queryset = Subscription.objects.none()

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(access.webhooks_scope(self.request.user)).order_by("pk")

    @extend_schema(
        request=SubscriptionInput,
        responses={
            201: SubscriptionCreated,
            400: OpenApiResponse(
                description="Not an https URL, a host on the installation's own network "
                "(loopback, private, link-local...), or an unknown event kind"
            ),
            403: OpenApiResponse(description="Not an integrator or director of a lab"),
        },
    )
    def create(self, request: Request) -> Response:
        """Register an endpoint for some event kinds; the answer carries the secret, once."""
        given = SubscriptionInput(data=request.data)
        given.is_valid(raise_exception=True)
        created = subscription_create(
            user=request.user,
            url=given.validated_data["url"],
            kinds=given.validated_data["kinds"],
        )
        subscription = created.subscription
        subscription.secret = created.secret
        return Response(SubscriptionCreated(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="Not the lab's")})
    def destroy(self, request: Request, pk: Any = None) -> Response:
        """Stop sending to the endpoint: its pending deliveries are cancelled (its deliveries
        and attempts are kept)."""
        try:
            subscription_deactivate(user=request.user, subscription_id=int(pk))
        except (Subscription.DoesNotExist, ValueError) as error:
            raise Http404 from error
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttemptOutput(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = ("id", "attempted_at", "status_code", "error", "duration_ms", "succeeded")
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer[Delivery]):
    event_id = serializers.UUIDField(source="event.uuid", help_text="The Webhook-Id sent")
    event_kind = serializers.CharField(source="event.kind")
    attempts = AttemptOutput(many=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "subscription_id",
            "event_id",
            "event_kind",
            "state",
            "failures",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "dead_at",
            "cancelled_at",
            "attempts",
        )
        read_only_fields = fields


class DeliverySearch(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=DeliveryState.choices, required=False)
    subscription = serializers.IntegerField(min_value=1, required=False)


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _WebhooksViewSet):
    serializer_class = DeliveryOutput
    queryset = Delivery.objects.none()

    def get_queryset(self) -> QuerySet[Delivery]:
        deliveries = (
            Delivery.objects.filter(access.webhooks_scope(self.request.user))
            .select_related("event")
            .prefetch_related("attempts")
            .order_by("pk")
        )
        if self.action == "list":
            search = DeliverySearch(data=self.request.query_params)
            search.is_valid(raise_exception=True)
            if "state" in search.validated_data:
                deliveries = deliveries.filter(state=search.validated_data["state"])
            if "subscription" in search.validated_data:
                deliveries = deliveries.filter(
                    subscription_id=search.validated_data["subscription"]
                )
        return deliveries

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=DeliveryState.values,
                description="pending, delivered, dead (the dead letters) or cancelled",
            ),
            OpenApiParameter("subscription", int, description="Deliveries of this subscription"),
        ],
        responses={
            200: DeliveryOutput(many=True),
            400: OpenApiResponse(description="A malformed parameter, named"),
            403: OpenApiResponse(description="Not an integrator or director of a lab"),
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The lab's deliveries, each with every attempt; ``?state=dead`` for dead letters."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={
            202: DeliveryOutput,
            404: OpenApiResponse(description="Not the lab's"),
            409: OpenApiResponse(
                description="The delivery is not dead, or its subscription was stopped"
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="replay", url_name="replay")
    def replay(self, request: Request, pk: Any = None) -> Response:
        """Schedule a dead letter again, now, with a fresh backoff (the replay is recorded)."""
        try:
            delivery_replay(user=request.user, delivery_id=int(pk))
        except (Delivery.DoesNotExist, ValueError) as error:
            raise Http404 from error
        return Response(
            DeliveryOutput(self.get_queryset().get(pk=pk)).data, status=status.HTTP_202_ACCEPTED
        )
