"""Corrections over HL7 (OBX-11 C): the stored panel of the OBR's accession is amended (an
amended report follows; the original is kept), after checking it is the same patient's and that
what is sent as final (F) beside the corrections equals what is stored."""

from __future__ import annotations

from django.contrib.auth.models import User

from labpanel.accounts.models import Lab
from labpanel.exceptions import Conflict
from panels.intake.amendments import CORRECTION, panel_amend
from panels.intake.hl7.submissions import OrderAction
from panels.intake.hl7.types import OruParse
from panels.models import Panel

__all__ = ["order_correct"]


def order_correct(
    action: OrderAction, *, lab: Lab, user: User, parsed: OruParse, intake: str
) -> None:
    """OBX-11 C: amend the stored panel (an amended report follows; the original is kept).

    The OBR must name a stored accession of the same patient; observations sent as F in the
    same order must equal what is stored (a changed value is a correction and says so)."""
    submission = action.submission
    panel = (
        Panel.objects.select_related("patient")
        .filter(accession=submission.accession, lab=lab)
        .first()
    )
    if panel is None:
        raise Conflict(f"correction for accession {submission.accession}, which is not stored")
    if panel.patient.mrn != submission.patient.mrn:
        raise Conflict(
            f"correction for accession {submission.accession} names another patient than the "
            "stored panel (possible wrong patient); nothing was changed"
        )
    stored = {r.analyte.code: r for r in panel.results.current().select_related("analyte")}
    for result in submission.results:
        if result.analyte.code in action.corrected:
            continue
        kept = stored.get(result.analyte.code)
        if kept is None or kept.value_text != result.reported.text or kept.unit != result.unit:
            raise Conflict(
                f"{result.analyte.short_name} is sent as final (F) but differs from the stored "
                "result; send a changed value with OBX-11 C"
            )
    panel_amend(
        panel_id=panel.pk,
        user=user,
        corrections=[r for r in submission.results if r.analyte.code in action.corrected],
        reason=(
            f"Correction sent by {parsed.sending_application or 'the interface'} "
            f"(HL7 OBX-11 C, message {parsed.control_id})"
        ),
        kind=CORRECTION,
        intake=intake,
    )
