"""Reading the printable progress report's HTML in tests: its structure and its marked numbers."""

from __future__ import annotations

from html.parser import HTMLParser


class ReportHtml(HTMLParser):
    """Tags with their attributes, nesting errors, and the text of data-metric / data-principle."""

    VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, str] = {}
        self.doctype = ""
        self._key: str | None = None
        self.feed(html)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if "data-metric" in attributes:
            self._key = attributes["data-metric"]
        elif "data-principle" in attributes:
            self._key = f"{attributes['data-principle']}:{attributes['data-week']}"
        if self._key is not None:
            self.text.setdefault(self._key, "")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> inside <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        self._key = None

    def handle_data(self, data: str) -> None:
        if self._key is not None:
            self.text[self._key] += data

    def attrs(self, tag: str, attribute: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag and attribute in a]
