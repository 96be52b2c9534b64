"""What an instrument export says about how its results were measured: the method (the platform
its format belongs to) and the instrument (the serial number or name its header block writes).

Only what the file states: the method is the platform of the export's format (an xPONENT export
comes from a Luminex xMAP instrument), the instrument is the header block's own words, and a
file whose header names no instrument gives none. Labpanel's own CSV layouts state neither here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Provenance", "export_provenance"]

# The platform each export format belongs to, as the report prints it.
_METHODS = {
    "luminex_xponent": "Luminex xMAP bead immunoassay (xPONENT export)",
    "biorad_bioplex": "Bio-Plex bead immunoassay (Bio-Plex Manager export)",
    "msd_workbench": "MSD electrochemiluminescence immunoassay (Discovery Workbench export)",
}
# Header keys that name the instrument's serial number, per format (folded).
_SERIAL_KEYS = {
    "luminex_xponent": ("sn",),
    "biorad_bioplex": ("reader serial number", "serial number"),
    "msd_workbench": ("instrument serial number", "reader serial number", "serial number"),
}
# Header keys that name the instrument itself (a model or reader name), per format (folded).
_NAME_KEYS = {
    "luminex_xponent": (),
    "biorad_bioplex": ("reader", "instrument"),
    "msd_workbench": ("instrument", "reader", "instrument name"),
}


@dataclass(frozen=True, slots=True)
class Provenance:
    method: str  # "" when the format states none (Labpanel's CSV layouts)
    instrument: str  # "" when the file names no instrument


def _first(metadata: Mapping[str, str], keys: tuple[str, ...]) -> str:
    folded = {key.strip().casefold(): value.strip() for key, value in metadata.items()}
    for key in keys:
        value = folded.get(key, "")
        if value:
            return value
    return ""


def export_provenance(format: str, metadata: Mapping[str, str]) -> Provenance:
    """The method and instrument an export of ``format`` states in its ``metadata`` (the header
    block as written: ``ParsedFile.metadata``)."""
    method = _METHODS.get(format, "")
    if not method:
        return Provenance(method="", instrument="")
    name = _first(metadata, _NAME_KEYS[format])
    if format == "luminex_xponent":
        # "Program,xPONENT,,FLEXMAP 3D": the instrument model follows the program's name
        program = _first(metadata, ("program",))
        name = program.removeprefix("xPONENT").strip() if program.startswith("xPONENT") else ""
    serial = _first(metadata, _SERIAL_KEYS[format])
    parts = [part for part in (name, f"SN {serial}" if serial else "") if part]
    return Provenance(method=method, instrument=", ".join(parts))
