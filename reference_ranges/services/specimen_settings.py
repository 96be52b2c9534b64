"""A lab's specimen settings: which anticoagulant its generic "plasma" specimen is.

The engine never judges generic "plasma" by an interval for a specific anticoagulant unless
the lab has said which one its plasma is (:class:`reference_ranges.models.LabSpecimenSetting`);
a lab director says it here, for their own lab.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.exceptions import InvalidInput
from reference_ranges.models import LabSpecimenSetting, PlasmaAnticoagulant

logger = logging.getLogger(__name__)


def lab_specimen_setting_change(
    *, lab: Lab, plasma_anticoagulant: str, changed_by: User | None
) -> LabSpecimenSetting:
    """Record which anticoagulant ``lab``'s generic plasma is (``""``: not stated).

    ``changed_by`` must direct ``lab`` (``None``: the operator's command line). Raises
    ``InvalidInput`` for an unknown anticoagulant, ``NotAllowed``. Applies to panels
    interpreted from now on; stored interpretations are not changed.
    """
    access.specimen_setting_change_check(changed_by, lab_id=lab.pk)
    if plasma_anticoagulant not in PlasmaAnticoagulant.values:
        raise InvalidInput(
            f"unknown anticoagulant {plasma_anticoagulant!r}",
            details=[
                {
                    "field": "plasma_anticoagulant",
                    "message": "one of "
                    + ", ".join(v or "(empty)" for v in PlasmaAnticoagulant.values),
                }
            ],
        )
    with transaction.atomic():
        setting = LabSpecimenSetting.objects.select_for_update().filter(lab=lab).first()
        if setting is None:
            setting = LabSpecimenSetting(lab=lab)
        setting.plasma_anticoagulant = plasma_anticoagulant
        setting.changed_by = changed_by
        setting.changed_at = timezone.now()
        setting.save()
    logger.info(
        "lab_specimen_setting.changed lab_id=%s plasma_anticoagulant=%s user_id=%s",
        lab.pk,
        plasma_anticoagulant or "-",
        None if changed_by is None else changed_by.pk,
    )
    return setting
