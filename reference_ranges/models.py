"""Analyte catalogue and versioned reference-range rule sets (data only; logic lives in services).

A rule set is a draft until a director publishes it; a published set never changes — a new
version supersedes it and the superseded one is retired, pointing at its successor. A set belongs
to one lab, or to nobody (lab NULL: the installation-wide default that labs without a set of
their own use). The database allows one active set per (lab, panel type) and one installation-
wide active set per panel type. Every rule names its source and says whether that source was
verified.

A set also keeps the molecular weights (kDa) it converts mass to substance concentrations with,
copied from the catalogue when the set is created, so that a published set converts the same way
whatever later happens to the catalogue.

Two more kinds of lab configuration live here. Pattern-rule settings switch the shipped pattern
rules (``seed/pattern_rules.yaml``) on or off for one lab, or for the installation; every change
is kept in an append-only audit trail. Assay measuring ranges (LLOQ/ULOQ) are recorded per lab,
analyte and assay and are never edited: a new range with a later ``effective_from`` supersedes
the one in use.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from labpanel.db import QuickLoadModel, TimestampedModel, user_reference


class AnalyteFamily(models.TextChoices):
    INTERLEUKIN = "interleukin", "Interleukin"
    INTERFERON = "interferon", "Interferon"
    TNF = "tnf", "Tumour necrosis factor"
    CHEMOKINE = "chemokine", "Chemokine"
    COLONY_STIMULATING_FACTOR = "colony_stimulating_factor", "Colony-stimulating factor"
    SOLUBLE_RECEPTOR = "soluble_receptor", "Soluble receptor"
    ACUTE_PHASE = "acute_phase", "Acute-phase marker"


class InflammatoryRole(models.TextChoices):
    PRO = "pro", "Pro-inflammatory"
    ANTI = "anti", "Anti-inflammatory"
    DUAL = "dual", "Dual"
    MARKER = "marker", "Marker"


class Analyte(TimestampedModel):
    code = models.CharField(max_length=16, unique=True)
    short_name = models.CharField(max_length=40, help_text="Display name, e.g. IL-1β")
    name = models.CharField(max_length=120)
    aliases = models.JSONField(default=list, blank=True)
    family = models.CharField(max_length=32, choices=AnalyteFamily.choices)
    subfamily = models.CharField(max_length=80, blank=True)
    inflammatory_role = models.CharField(max_length=8, choices=InflammatoryRole.choices)
    role_verified = models.BooleanField(default=True)
    role_note = models.TextField(blank=True)
    loinc = models.CharField(max_length=16, blank=True, help_text="Result LOINC (mass/volume)")
    loinc_verified = models.BooleanField(default=False)
    other_codes = models.JSONField(default=list, blank=True)
    canonical_unit = models.CharField(max_length=16)
    allowed_units = models.JSONField(
        default=list, help_text="Units a result may be reported in; never converted"
    )
    molecular_weight_kda = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True
    )
    source_note = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.short_name} ({self.code})"


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ReferenceRangeSetQuerySet(models.QuerySet["ReferenceRangeSet"]):
    def active(self) -> ReferenceRangeSetQuerySet:
        return self.filter(status=RuleSetStatus.ACTIVE)

    def drafts(self) -> ReferenceRangeSetQuerySet:
        return self.filter(status=RuleSetStatus.DRAFT)

    def in_scope(self, *, lab_id: int | None, panel_type: str) -> ReferenceRangeSetQuerySet:
        """Sets of exactly this scope: one lab's (``lab_id``) or the installation-wide ones."""
        if lab_id is None:
            return self.filter(lab__isnull=True, panel_type=panel_type)
        return self.filter(lab_id=lab_id, panel_type=panel_type)


class ReferenceRangeSet(TimestampedModel):
    # Written only by the services (import, publish, retire), never by an editor's hand.
    LIFECYCLE_FIELDS = (
        "status",
        "effective_from",
        "published_at",
        "published_by",
        "created_by",
        "retired_at",
        "superseded_by",
    )

    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=32)
    panel_type = models.CharField(max_length=32, default="cytokine")
    status = models.CharField(
        max_length=8, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT
    )
    effective_from = models.DateField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = user_reference()
    description = models.TextField(blank=True)
    lab = models.ForeignKey(
        "accounts.Lab",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rulesets",
        help_text="The lab this set is for; empty = the installation-wide default set",
    )
    created_by = user_reference()
    retired_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text="The version whose publication retired this one",
    )
    molecular_weights = models.JSONField(
        default=dict,
        blank=True,
        help_text="Analyte code -> single molecular weight in kDa (decimal text), copied when the "
        "set was created; used only to convert pg/mL <-> pmol/L",
    )

    objects = ReferenceRangeSetQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="ruleset_key_version_unique"),
            # NULLs are distinct in a unique index, so the installation-wide scope (lab NULL)
            # needs a constraint of its own.
            models.UniqueConstraint(
                fields=["lab", "panel_type"],
                condition=Q(status=RuleSetStatus.ACTIVE, lab__isnull=False),
                name="one_active_ruleset_per_lab_panel_type",
            ),
            models.UniqueConstraint(
                fields=["panel_type"],
                condition=Q(status=RuleSetStatus.ACTIVE, lab__isnull=True),
                name="one_active_default_ruleset_per_panel_type",
            ),
            models.CheckConstraint(
                condition=~Q(status=RuleSetStatus.ACTIVE)
                | Q(published_at__isnull=False, effective_from__isnull=False),
                name="active_ruleset_is_published",
            ),
            models.CheckConstraint(
                condition=~Q(status=RuleSetStatus.RETIRED) | Q(retired_at__isnull=False),
                name="retired_ruleset_has_retired_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class SpecimenType(models.TextChoices):
    """The specimen a panel is measured on; a rule may be restricted to some of them."""

    SERUM = "serum", "Serum"
    PLASMA = "plasma", "Plasma"
    PLASMA_EDTA = "plasma_edta", "EDTA plasma"
    PLASMA_HEPARIN = "plasma_heparin", "Heparin plasma"
    PLASMA_CITRATE = "plasma_citrate", "Citrate plasma"
    CSF = "csf", "Cerebrospinal fluid"


class AgeUnit(models.TextChoices):
    DAYS = "days", "Days"
    YEARS = "years", "Years"


class ReferenceRangeRule(QuickLoadModel):
    ruleset = models.ForeignKey(ReferenceRangeSet, on_delete=models.PROTECT, related_name="rules")
    key = models.CharField(max_length=80)
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="rules")
    unit = models.CharField(max_length=16)
    low = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    low_inclusive = models.BooleanField(default=True)
    high = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    high_inclusive = models.BooleanField(default=True)
    critical_low = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    critical_high = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    age_unit = models.CharField(max_length=5, choices=AgeUnit.choices, default=AgeUnit.YEARS)
    min_age = models.PositiveIntegerField(null=True, blank=True)
    max_age = models.PositiveIntegerField(null=True, blank=True)
    specimen_types = models.JSONField(
        null=True, blank=True, help_text="Specimen types the rule applies to; empty = any"
    )
    source = models.CharField(max_length=200)
    test_code = models.CharField(max_length=80, blank=True)
    test_name = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=200, blank=True)
    citation = models.TextField(blank=True)
    verified = models.BooleanField(default=True)
    published_text = models.CharField(
        max_length=120, blank=True, help_text="The interval as the source words it"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["ruleset", "analyte__code", "key"]
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "key"], name="rule_key_unique_in_set"),
            models.CheckConstraint(
                condition=Q(low__isnull=False) | Q(high__isnull=False),
                name="rule_has_a_bound",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=models.F("high")),
                name="rule_low_not_above_high",
            ),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True)
                | Q(max_age__isnull=True)
                | Q(min_age__lt=models.F("max_age")),
                name="rule_age_band_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.ruleset.key} v{self.ruleset.version})"


class PatternRuleSettingQuerySet(models.QuerySet["PatternRuleSetting"]):
    def installation_defaults(self) -> PatternRuleSettingQuerySet:
        return self.filter(lab__isnull=True)

    def for_lab(self, lab_id: int) -> PatternRuleSettingQuerySet:
        return self.filter(lab_id=lab_id)


_UNVERIFIED_ENABLED_NEEDS_REASON = ~Q(enabled=True, rule_verified=False) | ~Q(reason="")


class PatternRuleChoice(QuickLoadModel):
    """What a pattern-rule setting says, kept by the setting and by each change of it: the rule
    and the version it was made for, the rule's verification then, on or off, why, who, when."""

    rule_id = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=32)
    rule_verified = models.BooleanField()
    enabled = models.BooleanField()
    reason = models.TextField(blank=True)
    changed_by = user_reference()
    changed_at = models.DateTimeField()

    class Meta:
        abstract = True


class PatternRuleSetting(PatternRuleChoice):
    """Whether one shipped pattern rule is evaluated for one lab (or, lab empty, by default).

    A setting is given for one version of the rule (``rule_version``): when a release ships a
    new version, the setting no longer applies and the rule falls back to the installation
    default, then to the shipped flag, until someone reviews it again. ``rule_verified`` is the
    rule's verification when the setting was made; enabling an unverified rule needs a reason.
    Changed only through ``pattern_rule_setting_change``, which also writes the audit trail.
    """

    lab = models.ForeignKey(
        "accounts.Lab",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pattern_rule_settings",
        help_text="The lab this setting is for; empty = the installation default",
    )
    changed_by = user_reference(
        help_text="Empty when set by seed_reference_data from the shipped rules file"
    )

    objects = PatternRuleSettingQuerySet.as_manager()

    class Meta:
        ordering = ["lab_id", "rule_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "rule_id"],
                condition=Q(lab__isnull=False),
                name="pattern_rule_setting_once_per_lab",
            ),
            # NULLs are distinct in a unique index: the installation default needs its own.
            models.UniqueConstraint(
                fields=["rule_id"],
                condition=Q(lab__isnull=True),
                name="pattern_rule_setting_once_per_installation",
            ),
            models.CheckConstraint(
                condition=_UNVERIFIED_ENABLED_NEEDS_REASON,
                name="pattern_rule_setting_unverified_enabled_has_reason",
            ),
        ]

    def __str__(self) -> str:
        scope = self.lab.name if self.lab is not None else "installation default"
        return f"{self.rule_id} v{self.rule_version}: {'on' if self.enabled else 'off'} ({scope})"


class PatternRuleSettingChange(PatternRuleChoice):
    """One change of a pattern-rule setting: who, when, why, and to what. Append-only."""

    setting = models.ForeignKey(
        PatternRuleSetting, on_delete=models.PROTECT, related_name="changes"
    )

    class Meta:
        ordering = ["setting", "changed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=_UNVERIFIED_ENABLED_NEEDS_REASON,
                name="pattern_rule_change_unverified_enabled_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.rule_id} {'on' if self.enabled else 'off'} at {self.changed_at:%Y-%m-%d %H:%M}"
        )


class AssayMeasuringRange(QuickLoadModel):
    """An assay's limits of quantitation (LLOQ and/or ULOQ) for one analyte in one lab.

    Never edited: a range may already have judged results. A new range for the same lab and
    analyte with a later ``effective_from`` supersedes it from that day.
    """

    lab = models.ForeignKey(
        "accounts.Lab", on_delete=models.PROTECT, related_name="measuring_ranges"
    )
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="measuring_ranges")
    assay = models.CharField(max_length=200, help_text="Assay / method, e.g. Roche Elecsys IL-6")
    lloq = models.DecimalField("LLOQ", max_digits=20, decimal_places=6, null=True, blank=True)
    uloq = models.DecimalField("ULOQ", max_digits=20, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=16)
    effective_from = models.DateField()
    source = models.TextField(
        help_text="Where the limits come from: package insert, local validation report..."
    )
    created_by = user_reference()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["lab", "analyte__code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "analyte", "effective_from"],
                name="measuring_range_once_per_lab_analyte_day",
            ),
            models.CheckConstraint(
                condition=Q(lloq__isnull=False) | Q(uloq__isnull=False),
                name="measuring_range_has_a_limit",
            ),
            models.CheckConstraint(
                condition=Q(lloq__isnull=True) | Q(lloq__gte=0),
                name="measuring_range_lloq_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(uloq__isnull=True) | Q(uloq__gt=0),
                name="measuring_range_uloq_positive",
            ),
            models.CheckConstraint(
                condition=Q(lloq__isnull=True)
                | Q(uloq__isnull=True)
                | Q(lloq__lt=models.F("uloq")),
                name="measuring_range_lloq_below_uloq",
            ),
            models.CheckConstraint(condition=~Q(source=""), name="measuring_range_has_source"),
        ]

    def __str__(self) -> str:
        return f"{self.analyte.code} {self.assay} from {self.effective_from} (lab {self.lab_id})"


class PlasmaAnticoagulant(models.TextChoices):
    """What a lab's generic "plasma" specimen is; empty: the lab has not said."""

    NOT_STATED = "", "Not stated: generic plasma gets no anticoagulant-specific interval"
    EDTA = SpecimenType.PLASMA_EDTA.value, "EDTA plasma"
    HEPARIN = SpecimenType.PLASMA_HEPARIN.value, "Heparin plasma"
    CITRATE = SpecimenType.PLASMA_CITRATE.value, "Citrate plasma"


class LabSpecimenSetting(QuickLoadModel):
    """A lab's statement of which anticoagulant its generic "plasma" specimen is.

    Without it (or with it empty), a panel on generic "plasma" is never judged by an interval
    defined for a specific anticoagulant (lithium heparin, EDTA): one tube cannot be both, and
    the engine does not guess. Changed only through ``lab_specimen_setting_change`` (a director
    for their own lab), which records who and when.
    """

    lab = models.OneToOneField(
        "accounts.Lab", on_delete=models.PROTECT, related_name="specimen_setting"
    )
    plasma_anticoagulant = models.CharField(
        max_length=16,
        choices=PlasmaAnticoagulant.choices,
        blank=True,
        help_text='What the lab\'s specimens labelled only "plasma" are collected in',
    )
    changed_by = user_reference()
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["lab_id"]

    def __str__(self) -> str:
        return f"generic plasma of lab {self.lab_id}: {self.plasma_anticoagulant or 'not stated'}"


class ReferenceDataStamp(QuickLoadModel):
    """One row whose ``token`` changes with every write to the reference data a process keeps
    in memory (``reference_ranges.current``): the catalogue, rule sets and their rules, measuring
    ranges, specimen settings and pattern-rule settings.

    Database triggers (migration 0006) set a new random token on any INSERT, UPDATE, DELETE or
    TRUNCATE of those tables, in the writing transaction, whoever writes (services, the admin,
    raw SQL, another process). A token is never reused, even after a rollback, so a process
    that sees the token it loaded its copy under holds what the database holds. Never written
    by code.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"reference data {self.token}"
