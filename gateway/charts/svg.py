"""A few SVG shapes written as text, every label escaped: atende's charts need no plotting
library, and a sector's or an error's name can never become markup.

Only presentation attributes are written, never `style`, so a chart shown inline obeys
the console's Content-Security-Policy (no inline styles).
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def _number(value: float) -> str:
    return f"{round(value, 1):g}"


class Svg:
    """One chart being drawn: add shapes, then `render`."""

    def __init__(self, width: int, height: int, *, font_size: int = 12) -> None:
        self.width, self.height = width, height
        self._parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{font_size}">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
        ]

    def _add(self, tag: str, attrs: dict[str, object], content: str | None = None) -> None:
        written = " ".join(
            f"{name.replace('_', '-')}={quoteattr(str(value))}"
            for name, value in attrs.items()
            if value is not None
        )
        self._parts.append(
            f"<{tag} {written}/>" if content is None else f"<{tag} {written}>{content}</{tag}>"
        )

    def text(
        self,
        x: float,
        y: float,
        label: str,
        *,
        fill: str | None = None,
        anchor: str | None = None,
        size: int | None = None,
        weight: str | None = None,
    ) -> None:
        self._add(
            "text",
            {"x": _number(x), "y": _number(y), "fill": fill, "text_anchor": anchor,
             "font_size": size, "font_weight": weight},
            escape(label),
        )  # fmt: skip

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, stroke: str, dash: str | None = None
    ) -> None:
        self._add(
            "line",
            {"x1": _number(x1), "x2": _number(x2), "y1": _number(y1), "y2": _number(y2),
             "stroke": stroke, "stroke_dasharray": dash},
        )  # fmt: skip

    def rect(
        self, x: float, y: float, width: float, height: float, *, fill: str, title: str = ""
    ) -> None:
        """A filled box; `title` is the tooltip a browser shows over it."""
        attrs = {"x": _number(x), "y": _number(y), "width": _number(width),
                 "height": _number(height), "fill": fill}  # fmt: skip
        self._add("rect", attrs, f"<title>{escape(title)}</title>" if title else None)

    def polyline(self, points: list[tuple[float, float]], *, stroke: str) -> None:
        self._add(
            "polyline",
            {"points": " ".join(f"{_number(x)},{_number(y)}" for x, y in points),
             "fill": "none", "stroke": stroke, "stroke_width": 2},
        )  # fmt: skip

    def render(self) -> str:
        return "\n".join([*self._parts, "</svg>"]) + "\n"
