"""HL7 field values as the panel submission needs them: the specimen (HL7 table 0487 codes or
Labpanel's words), the birth date (PID-7, YYYYMMDD) and the collection time (OBR-7, to the
minute; the received time, OBR-14 or SPM-18, likewise; without an offset it is read on the
lab's clock, and a wall time that happens twice or
never there is refused). Each raises ``FieldError`` with the reason, like the field rules of
``panels.intake.validation``; nothing is guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from panels.intake.validation import FieldError, birth_date_read, specimen_type_clean

__all__ = ["SPECIMEN_CODES", "hl7_date_clean", "hl7_timestamp_clean", "specimen_clean"]

# HL7 table 0487 specimen codes this service can interpret, and its own words.
SPECIMEN_CODES = {"SER": "serum", "PLAS": "plasma", "CSF": "csf"}
_TS = re.compile(
    r"^(?P<date>\d{8})(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2}(?:\.\d{1,4})?)?"
    r"(?P<offset>[+-]\d{4})?$"
)


def specimen_clean(text: str) -> str:
    """SPM-4/OBR-15: an HL7 table 0487 code this service interprets, or Labpanel's word."""
    code = text.strip()
    if not code:
        raise FieldError("specimen type is missing (SPM-4 or OBR-15)")
    return SPECIMEN_CODES.get(code.upper()) or specimen_type_clean(code)


def hl7_date_clean(text: str, *, today: date) -> date | None:
    """PID-7: the birth date of its first eight digits (YYYYMMDD); None when empty."""
    value = text.strip()
    if not value:
        return None
    if not re.match(r"^\d{8}", value):
        raise FieldError(f"{value!r} is not an HL7 date (YYYYMMDD)")
    return birth_date_read(value, _yyyymmdd, today=today)


def _yyyymmdd(value: str) -> date:
    """The date of the first eight digits (a PID-7 may go on with a time)."""
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def hl7_timestamp_clean(
    text: str, *, zone: ZoneInfo, now: datetime, what: str = "collection time"
) -> datetime:
    """OBR-7 (``what``: OBR-14/SPM-18 "receipt time") to the minute at least; read on ``zone``
    (the lab's clock) without an offset."""
    value = text.strip()
    match = _TS.match(value)
    if match is None:
        raise FieldError(
            f"{value!r} is not an HL7 timestamp to the minute (YYYYMMDDHHMM[SS][+ZZZZ])"
        )
    day = match.group("date")
    second = match.group("second") or "0"
    try:
        moment = datetime(  # noqa: DTZ001 - the zone is decided below (offset or the lab's clock)
            int(day[:4]),
            int(day[4:6]),
            int(day[6:8]),
            int(match.group("hour")),
            int(match.group("minute")),
            int(second.split(".")[0]),
        )
    except ValueError as error:
        raise FieldError(f"{value!r} is not a real date and time") from error
    offset = match.group("offset")
    if offset:
        text_iso = moment.isoformat() + offset[:3] + ":" + offset[3:]
        aware = datetime.fromisoformat(text_iso)
    else:
        earlier = moment.replace(tzinfo=zone, fold=0)
        if earlier.utcoffset() != moment.replace(tzinfo=zone, fold=1).utcoffset():
            raise FieldError(
                f"{value!r} happens twice or never on the lab's clock ({zone.key}); add the offset"
            )
        aware = earlier
    if aware > now + timedelta(minutes=5):
        raise FieldError(f"{what} is in the future")
    return aware
