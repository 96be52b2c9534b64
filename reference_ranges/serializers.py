"""Input and output shapes of the rule-set API. Inputs validate; they never write.

Bounds leave as plain decimal strings without padding ("2.5", never "2.500000" or 2.5), the
same text the exchange format uses.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.ruleset_format import RULE_FIELDS, decimal_text


@extend_schema_field(OpenApiTypes.STR)
class DecimalTextField(serializers.Field):  # type: ignore[type-arg]
    """A stored bound as exact decimal text, or null."""

    def to_representation(self, value: Decimal) -> str | None:
        return decimal_text(value)


class RuleOutput(serializers.ModelSerializer[ReferenceRangeRule]):
    analyte = serializers.CharField(source="analyte.code")
    low = DecimalTextField(allow_null=True)
    high = DecimalTextField(allow_null=True)
    critical_low = DecimalTextField(allow_null=True)
    critical_high = DecimalTextField(allow_null=True)
    sex = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceRangeRule
        fields = RULE_FIELDS
        read_only_fields = fields

    def get_sex(self, rule: ReferenceRangeRule) -> str | None:
        """null = the rule applies whatever the patient's sex."""
        return rule.sex or None


class RulesetRefOutput(serializers.Serializer[ReferenceRangeSet]):
    id = serializers.IntegerField()
    key = serializers.CharField()
    version = serializers.CharField()


class LabRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RulesetOutput(serializers.ModelSerializer[ReferenceRangeSet]):
    lab = LabRefOutput(allow_null=True, help_text="null = the installation-wide default set")
    published_by = serializers.CharField(source="published_by.username", allow_null=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    superseded_by = RulesetRefOutput(allow_null=True)
    rules = RuleOutput(many=True)
    export_url = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceRangeSet
        fields = (
            "id",
            "key",
            "name",
            "version",
            "panel_type",
            "lab",
            "description",
            *ReferenceRangeSet.LIFECYCLE_FIELDS,
            "export_url",
            "rules",
        )
        read_only_fields = fields

    def get_export_url(self, ruleset: ReferenceRangeSet) -> str:
        path = reverse("api:ruleset-export", args=[ruleset.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class RulesetPublishInput(serializers.Serializer[Any]):
    effective_from = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Must be today (the default): publishing takes effect immediately",
    )


class ProblemOutput(serializers.Serializer[Any]):
    rule = serializers.CharField(allow_null=True, help_text="Rule key, rules[i], or null")
    field = serializers.CharField()
    message = serializers.CharField()


class RulesetProblemsOutput(serializers.Serializer[Any]):
    """A refused document: the API's error shape, ``details`` naming every problem."""

    code = serializers.CharField()
    message = serializers.CharField()
    details = ProblemOutput(many=True)


class RulesetImportOutput(serializers.Serializer[Any]):
    ruleset = RulesetOutput()
    warnings = ProblemOutput(many=True)


class RulesetPublishOutput(serializers.Serializer[Any]):
    ruleset = RulesetOutput()
    retired = RulesetRefOutput(allow_null=True)
    warnings = ProblemOutput(many=True)
