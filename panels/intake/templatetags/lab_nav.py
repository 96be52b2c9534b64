"""``{% lab_nav %}``: the base template's navigation, the screens ``access.navigation_for``
offers the user (a clinician their inbox; the lab's staff the worklist, the critical results
awaiting acknowledgement, imports and reference ranges), the current one marked; and
``{% fixed_url name %}``. Both reverse a URL once per process (``labpanel.reversing``)."""

from __future__ import annotations

from typing import Any

from django import template

from labpanel.accounts import access
from labpanel.reversing import url_for

register = template.Library()

LABELS = {
    "reports:inbox": "Inbox",
    "worklist:list": "Worklist",
    "critical:list": "Critical results",
    "imports:list": "Imports",
    "reference_ranges:list": "Reference ranges",
}


@register.inclusion_tag("panels/_nav.html", takes_context=True)
def lab_nav(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    current = request.path if request is not None else ""
    links = []
    for name in access.navigation_for(user):
        url = url_for(name)
        links.append({"url": url, "label": LABELS[name], "is_current": current.startswith(url)})
    return {"links": links}


@register.simple_tag
def fixed_url(name: str) -> str:
    """``{% url name %}`` of a URL without arguments, reversed once per process
    (``labpanel.reversing``): the base template's links."""
    return url_for(name)
