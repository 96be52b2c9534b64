"""Errors raised by the renderer."""

from __future__ import annotations


class RenderError(Exception):
    """Rendering cannot succeed for this input or installation; retrying will not help.

    Terminal by contract: a missing or unreadable font file, a character the shipped fonts
    cannot draw, or content that cannot be laid out on a page. The message is safe to store
    as a report's ``error_message``: it names fields and code points, never patient data.
    """
