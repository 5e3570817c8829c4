"""Render the report's document model as self-contained HTML and as Markdown.

A report is a list of sections made of a few block types (text, bullets, tables, charts, the
verdict banner, item comparisons), so that `report.html` and `report.md` always say the same thing.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from string import Template
from typing import Any

from goaltune.run_folder import utc_now

VERDICT_TONES = {
    "SUCCESS": "good",
    "INVESTIGATE": "warn",
    "NEEDS TUNING": "warn",
    "PROBLEM": "bad",
    "FAILED": "bad",
}


# ---------------------------------------------------------------- document model


@dataclass(frozen=True)
class Badge:
    """A short colored label; tone is good, warn, bad, info or muted."""

    text: str
    tone: str


@dataclass(frozen=True)
class Code:
    """Literal text such as a hash, shown in monospace and allowed to break anywhere."""

    text: str


Cell = str | Badge | Code


@dataclass(frozen=True)
class Text:
    """A paragraph; `note` paragraphs are secondary (missing data, how to read a table)."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Bullets:
    items: list[str]
    title: str | None = None


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    caption: str | None = None


@dataclass(frozen=True)
class Chart:
    id: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class Banner:
    """The verdict (None without verdict.json) with its headline and reasons."""

    verdict: str | None
    caution: bool
    headline: str
    reasons: list[str]


@dataclass(frozen=True)
class ItemChange:
    """One task item whose metrics differ before and after."""

    id: str
    change: Badge
    prompt: str
    before: str
    after: str
    metrics: Table


Block = Text | Bullets | Table | Chart | Banner | ItemChange


@dataclass(frozen=True)
class Section:
    """A titled part of the report; `columns` lays its blocks out side by side in HTML."""

    id: str
    title: str
    blocks: list[Block]
    columns: bool = False


@dataclass(frozen=True)
class Report:
    """A whole report: title, header facts (label, value), sections, source folder, HTML name."""

    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]
    source: str
    html_name: str  # the HTML file beside the Markdown one, where it says the charts are
    generated: str = field(default_factory=utc_now)

    @property
    def footer(self) -> str:
        return f"Generated {self.generated} by goaltune from the files in {self.source}/."


# ---------------------------------------------------------------- HTML


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        return f'<span class="badge {cell.tone}">{_h(cell.text)}</span>'
    if isinstance(cell, Code):
        return f'<code class="literal">{_h(cell.text)}</code>'
    return _h(cell)


def _html_table(table: Table) -> str:
    caption = f"<caption>{_h(table.caption)}</caption>" if table.caption else ""
    head = "".join(f"<th>{_h(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return (
        f'<div class="table-wrap"><table>{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _html_text(text: Text) -> str:
    return f'<p class="note">{_h(text.text)}</p>' if text.note else f"<p>{_h(text.text)}</p>"


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_h(item)}</li>" for item in items) + "</ul>"


def _html_bullets(bullets: Bullets) -> str:
    title = f"<h3>{_h(bullets.title)}</h3>" if bullets.title else ""
    return f'<div class="recommendations">{title}{_html_list(bullets.items)}</div>'


def _html_chart(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure><img id="{_h(chart.id)}" alt="{_h(chart.alt)}" '
        f'src="data:image/png;base64,{data}"></figure>'
    )


def _html_banner(banner: Banner) -> str:
    tone = VERDICT_TONES.get(banner.verdict or "", "muted")
    caution = ' <span class="badge warn">&#9888; with caution</span>' if banner.caution else ""
    reasons = _html_list(banner.reasons) if banner.reasons else ""
    return (
        f'<div id="verdict" class="verdict {tone}"><div class="label">Verdict</div>'
        f'<div class="word">{_h(banner.verdict or "NO VERDICT")}{caution}</div>'
        f'<p class="headline">{_h(banner.headline)}</p>{reasons}</div>'
    )


def _html_item(item: ItemChange) -> str:
    return (
        f'<article class="item"><div class="title"><code>{_h(item.id)}</code>'
        f"{_html_cell(item.change)}</div><h4>Prompt</h4><pre>{_h(item.prompt)}</pre>"
        f'<div class="pair"><div><h4>Before</h4><pre>{_h(item.before)}</pre></div>'
        f"<div><h4>After</h4><pre>{_h(item.after)}</pre></div></div>"
        f"{_html_table(item.metrics)}</article>"
    )


_HTML: dict[type, Callable[[Any], str]] = {
    Text: _html_text,
    Bullets: _html_bullets,
    Table: _html_table,
    Chart: _html_chart,
    Banner: _html_banner,
    ItemChange: _html_item,
}


def _html_section(section: Section, heading: bool) -> str:
    blocks = [_HTML[type(b)](b) for b in section.blocks]
    content = "".join(blocks)
    if section.columns:
        content = '<div class="columns">' + "".join(f"<div>{b}</div>" for b in blocks) + "</div>"
    title = f"<h2>{_h(section.title)}</h2>" if heading else ""
    return f'<section id="{section.id}">{title}{content}</section>'


def render_html(report: Report) -> str:
    """The self-contained HTML report: inline CSS, charts as PNG data URIs, no network access.

    The first section (the verdict) comes without a heading, straight under the header.
    """
    facts = "".join(f"<span>{_h(key)}: <b>{_h(value)}</b></span>" for key, value in report.facts)
    toc = "".join(f'<a href="#{s.id}">{_h(s.title)}</a>' for s in report.sections[1:])
    header = (
        f'<header class="run"><h1>{_h(report.title)}</h1><div class="meta">{facts}</div>'
        f'<nav class="toc">{toc}</nav></header>'
    )
    body = "\n".join(_html_section(s, heading=index > 0) for index, s in enumerate(report.sections))
    template = Template((files("goaltune.report") / "template.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=_h(f"{report.title} - goaltune report"),
        header=header,
        body=body,
        footer=_h(report.footer),
    )


# ---------------------------------------------------------------- Markdown


def _md(text: Any) -> str:
    """Text safe inside a Markdown paragraph or table cell: no raw HTML, pipes or line breaks."""
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\r", "").replace("\n", " ")


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        return f"**{_md(cell.text)}**"
    return f"`{_md(cell.text)}`" if isinstance(cell, Code) else _md(cell)


def _md_table(table: Table) -> str:
    lines = [f"**{_md(table.caption)}**", ""] if table.caption else []
    lines += [
        "| " + " | ".join(_md(h) for h in table.headers) + " |",
        "|" + "---|" * len(table.headers),
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _md_text(text: Text) -> str:
    return f"> {_md(text.text)}" if text.note else _md(text.text)


def _md_bullets(bullets: Bullets) -> str:
    title = [f"**{_md(bullets.title)}**", ""] if bullets.title else []
    return "\n".join(title + [f"- {_md(item)}" for item in bullets.items])


def _md_banner(banner: Banner) -> str:
    caution = " (with caution)" if banner.caution else ""
    lines = [
        f"**Verdict: {_md(banner.verdict or 'NO VERDICT')}{caution}**",
        "",
        _md(banner.headline),
    ]
    if banner.reasons:
        lines += ["", *(f"- {_md(reason)}" for reason in banner.reasons)]
    return "\n".join(lines)


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _md_item(item: ItemChange) -> str:
    return "\n\n".join(
        [
            f"### {_md(item.id)} ({_md(item.change.text)})",
            "Prompt:",
            _fence(item.prompt),
            "Before:",
            _fence(item.before),
            "After:",
            _fence(item.after),
            _md_table(item.metrics),
        ]
    )


_MARKDOWN: dict[type, Callable[[Any], str]] = {
    Text: _md_text,
    Bullets: _md_bullets,
    Table: _md_table,
    Chart: lambda chart: "",
    Banner: _md_banner,
    ItemChange: _md_item,
}


def render_markdown(report: Report) -> str:
    """The report as Markdown: the same sections and tables, without the charts."""
    facts = [f"- {key}: {_md(value)}" for key, value in report.facts]
    parts = [f"# {_md(report.title)}: goaltune report", "\n".join(facts)]
    for section in report.sections:
        parts.append(f"## {_md(section.title)}")
        parts.extend(text for text in (_MARKDOWN[type(b)](b) for b in section.blocks) if text)
    parts.append(f"_{_md(report.footer)} The charts are in {report.html_name}._")
    return "\n\n".join(parts) + "\n"
