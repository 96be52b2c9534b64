"""Report rendering: plain ``ReportDocument`` data in, PDF bytes out (pure Python + reportlab).

No Django, settings, storage or clock here (STYLE.md item 24).
"""

from reports.rendering.document import ReportDocument, ResultLine
from reports.rendering.errors import RenderError
from reports.rendering.pdf import render_pdf

__all__ = ["RenderError", "ReportDocument", "ResultLine", "render_pdf"]
