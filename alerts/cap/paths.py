"""Element paths (``/alert/info[1]/area[2]/polygon[1]``) and issue construction helpers."""

from __future__ import annotations

from lxml import etree

from alerts.cap.result import Issue, IssueSeverity


def local_name(el: etree._Element) -> str:
    """Return the tag without its namespace."""
    tag = el.tag
    if not isinstance(tag, str):
        return "#node"
    return tag.rpartition("}")[2]


def line_of(el: etree._Element) -> int | None:
    """The element's 1-based source line (None for elements created after parsing)."""
    line: object = el.sourceline
    return line if isinstance(line, int) else None


def element_path(el: etree._Element) -> str:
    """Return a readable path with 1-based indexes among same-named siblings."""
    parts: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        name = local_name(node)
        if parent is None:
            parts.append(name)
        else:
            index = 1 + sum(1 for _ in node.itersiblings(node.tag, preceding=True))
            parts.append(f"{name}[{index}]")
        node = parent
    return "/" + "/".join(reversed(parts))


def issue_at(
    rule: str, message: str, el: etree._Element, severity: IssueSeverity = "error"
) -> Issue:
    """Build an issue located at ``el`` (path and source line)."""
    return Issue(rule, message, element_path(el), line_of(el), severity)
