"""A stored summary version as json, md, html (self-contained, inline CSS and SVG charts), xlsx or csv.

Every format is built from the version's stored figures and changes only. One set of table definitions
feeds all formats: formatted text for md/html, raw numbers with number formats for xlsx, raw values for csv.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo
from zoneinfo import ZoneInfo

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from queries.manifest import sha256
from queries.store import private_directory
from queries.summaries import SummaryVersion
from service.summaries import methodology
from service.summaries.text import (
    LABELS,
    Words,
    band_text,
    category_sentences,
    changes_sentences,
    data_share_sentences,
    figure_label,
    format_figure,
    overview_sentences,
    provincial_sentences,
)

FORMATS = ("json", "md", "html", "xlsx", "csv")
FILE_FORMATS = ("html", "md", "xlsx", "json")
"""The formats written to <data_dir>/summaries/<period>/v<n>.<ext> by the scheduler, the CLI and the demo."""
MEDIA_TYPES = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
CSV_COLUMNS = ("period", "category", "category_label", "kind", "rank", "platform", "name", "origin", "mau_avg",
               "mau_peak", "mau_peak_month", "minutes_per_user_day", "mb_per_user_month", "sessions_per_month",
               "hours_per_user_month", "installs", "installs_total", "penetration", "yoy_mau_avg",
               "yoy_minutes_per_user_day", "yoy_mb_per_user_month", "yoy_sessions_per_month")
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
REPORT_ZONE = "Asia/Ho_Chi_Minh"
"""The zone of the generated time of a version made before manifests recorded the service's zone."""

_environment = Environment(loader=PackageLoader("service", "templates"),
                           autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@dataclass(frozen=True)
class Column:
    """A table column: `value` gives the raw cell (xlsx, csv), `text` the formatted one (md, html)."""

    header: str
    value: Callable[[dict[str, Any]], Any]
    text: Callable[[dict[str, Any]], str]
    excel: str = "General"


def column(header: str, value: Callable[[dict[str, Any]], Any], shown: Callable[[Any], str] = str,
           excel: str = "General") -> Column:
    """A column whose text is `shown` applied to its raw value."""
    return Column(header, value, lambda row: shown(value(row)), excel)


@dataclass
class Table:
    """One table of the summary; `sheet` names its worksheet."""

    sheet: str
    columns: list[Column]
    rows: list[dict[str, Any]]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def raw(self) -> list[list[Any]]:
        return [[c.value(row) for c in self.columns] for row in self.rows]

    def text(self) -> list[list[str]]:
        return [[c.text(row) for c in self.columns] for row in self.rows]


@dataclass
class Section:
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # titled paragraphs (the methodology)


@dataclass
class Document:
    lang: str
    title: str
    period: str
    meta: list[tuple[str, str]]
    note: str | None
    highlights: list[str]
    sections: list[Section]


# -- tables -------------------------------------------------------------------------------------------
def _platform_table(sheet: str, rows: list[dict[str, Any]], words: Words) -> Table:
    label = words.label
    return Table(sheet, [
        column(label("rank"), lambda r: r["rank"], lambda v: "–" if v is None else str(v), "0"),
        column(label("platform"), lambda r: r["name"]),
        column(label("origin"), lambda r: label(r["origin"])),
        column(label("kind"), lambda r: label(r["kind"])),
        column(label("mau_avg"), lambda r: r["mau_avg"], words.integer, "#,##0"),
        column(label("mau_peak"), lambda r: r["mau_peak"], words.integer, "#,##0"),
        column(label("mau_peak_month"), lambda r: r["mau_peak_month"], words.month_short),
        column(label("minutes_per_user_day"), lambda r: r["minutes_per_user_day"], lambda v: words.decimal(v, 1),
               "0.0"),
        column(label("mb_per_user_month"), lambda r: r["mb_per_user_month"], lambda v: words.decimal(v, 1), "0.0"),
        column(label("sessions_per_month"), lambda r: r["sessions_per_month"] if r["kind"] == "web" else None,
               words.integer, "#,##0"),
        column(label("yoy.mau_avg"), lambda r: (r.get("yoy") or {}).get("mau_avg"), words.change, "+0%;-0%;0%"),
        column(label("yoy.sessions_per_month"),
               lambda r: (r.get("yoy") or {}).get("sessions_per_month") if r["kind"] == "web" else None,
               words.change, "+0%;-0%;0%"),
    ], rows)


def _share_table(share: dict[str, Any], words: Words) -> Table:
    label = words.label
    rows = [{**p, "side": side} for side in ("vn", "foreign") for p in share[side]["platforms"]]
    rows += [{"name": f"{label('total')} – {label(side)}", "side": side, "value": share[side]["total"],
              "share": share[side]["share"]} for side in ("vn", "foreign")]
    rows.append({"name": label("ratio"), "side": "", "value": share["ratio_vn_to_foreign"], "share": None})
    return Table(label("sheet_share"), [
        column(label("platform"), lambda r: r["name"]),
        column(label("origin"), lambda r: label(r["side"]) if r["side"] else ""),
        column(label("mau_avg"), lambda r: r.get("mau_avg"), words.integer, "#,##0"),
        column(label("value"), lambda r: r["value"], lambda v: words.decimal(v, 2), "0.00"),
        column(label("share"), lambda r: r.get("share"), words.percent, "0.00%"),
    ], rows)


def _overview_tables(overview: dict[str, Any], words: Words) -> list[Table]:
    label = words.label
    key_figures = [
        ("platforms_active", words.integer, "0"),
        ("mau_total", words.integer, "#,##0"),
        ("hours_per_user_month", lambda v: words.decimal(v, 1), "0.0"),
        ("share_of_users", lambda v: words.percent(v, 1), "0.0%"),
    ]
    rows = [{"metric": label(name), "value": overview[name], "shown": shown(overview[name]), "excel": excel}
            for name, shown, excel in key_figures]
    figures = Table(label("sheet_overview"), [
        column(label("metric"), lambda r: r["metric"]),
        Column(label("figure"), lambda r: r["value"], lambda r: r["shown"]),
    ], rows)
    bands = Table(label("sheet_bands"), [
        column(label("band"), lambda r: band_text(r, Words(words.lang))),
        column(label("platforms"), lambda r: r["platforms"], str, "0"),
    ], overview["bands"])
    categories = Table(f"{label('sheet_bands')} – {label('category')}", [
        column(label("category"), lambda r: words.category(r["category"])),
        column(label("platforms"), lambda r: r["platforms"], str, "0"),
    ], [{"category": k, "platforms": v} for k, v in overview["categories"].items()])
    return [figures, bands, categories]


def _provincial_table(rows: list[dict[str, Any]], words: Words) -> Table:
    label = words.label
    return Table(label("sheet_provincial"), [
        column(label("platform"), lambda r: r["name"]),
        column(label("province"), lambda r: r["province_name"]),
        column(label("mau_peak"), lambda r: r["mau_peak"], words.integer, "#,##0"),
        column(label("mau_peak_month"), lambda r: r["mau_peak_month"], words.month_short),
        column(label("smartphone_users"), lambda r: r["smartphone_users"], words.integer, "#,##0"),
        column(label("penetration"), lambda r: r["penetration"], lambda v: words.percent(v, 1), "0.0%"),
        column(label("minutes_per_user_day"), lambda r: r["minutes_per_user_day"], lambda v: words.decimal(v, 1),
               "0.0"),
        column(label("installs_total"), lambda r: r["installs_total"], words.integer, "#,##0"),
    ], rows)


OS_KEYS = ("android", "ios", "web", "other", "")


def _os_table(tables: list[dict[str, Any]], words: Words) -> Table:
    """One row per platform, one column per operating system: the breakdown's shown value, x when hidden, – when
    the platform had no user of that system in the year."""
    label = words.label
    present = [key for key in OS_KEYS if any((item["key"] or "") == key for t in tables for item in t["items"])]
    rows = [{"name": t["name"], **{(item["key"] or ""): item for item in t["items"]}} for t in tables]

    def cell(key: str) -> Callable[[dict[str, Any]], Any]:
        def value(row: dict[str, Any]) -> Any:
            item = row.get(key)
            return None if item is None else "x" if item["suppressed"] else item["mau_avg"]
        return value

    def shown(value: Any) -> str:
        return value if isinstance(value, str) else words.integer(value)

    return Table(label("sheet_os"), [column(label("platform"), lambda r: r["name"]),
                                     *(column(label(f"os.{key}"), cell(key), shown, "#,##0") for key in present)],
                 rows)


def _methodology_section(version: SummaryVersion, words: Words) -> Section:
    text = methodology.statement(version.changes, version.manifest, words)
    definitions = Table(words.label("sheet_methodology"), [
        column(words.label("figure"), lambda r: r["figure"]),
        column(words.label("definition"), lambda r: r["definition"]),
    ], [{"figure": figure, "definition": definition} for figure, definition in text.definitions])
    return Section(words.label("methodology"), tables=[definitions], notes=text.paragraphs)


def _changes_table(changes: dict[str, Any], names: dict[str, str], words: Words) -> Table:
    label = words.label

    def subject(row: dict[str, Any]) -> str:
        name = row["subject"]
        return names.get(name) or (label(name) if name in LABELS[words.lang] else name)

    return Table(label("sheet_changes"), [
        column(label("subject"), subject),
        column(label("figure"), lambda r: figure_label(r["figure"], words)),
        Column(label("before"), lambda r: r["before"], lambda r: format_figure(r["figure"], r["before"], words)),
        Column(label("after"), lambda r: r["after"], lambda r: format_figure(r["figure"], r["after"], words)),
        column(label("relative"), lambda r: r["relative"], words.change, "+0.00%;-0.00%;0%"),
    ], changes["items"])


# -- the document ---------------------------------------------------------------------------------------
def build_document(version: SummaryVersion, lang: str, with_charts: bool = True) -> Document:
    """The summary as titled sections of sentences, tables and charts, in `lang`."""
    if with_charts:
        from service.summaries import charts  # matplotlib loads only when a chart is drawn
    figures = version.figures
    words = Words.for_figures(figures, lang)
    label = words.label
    sections: list[Section] = []
    highlights: list[str] = []

    share = figures.get("data_share")
    share_sentences = data_share_sentences(share, figures, words)
    highlights.extend(share_sentences)

    overview = figures["overview"]
    sections.append(Section(label("overview"), overview_sentences(overview, figures, words),
                            _overview_tables(overview, words)))

    for number, block in enumerate(figures["categories"], start=1):
        category = block["category"]
        sentences = category_sentences(block, figures, words)
        if sentences:
            highlights.append(sentences[0])
        # apps are ranked by users, websites by visits: one table each, so that ranks never restart in a table
        by_kind = [(kind, rows) for kind in ("app", "web")
                   if (rows := [r for r in block["platforms"] if r["kind"] == kind])]
        name = words.category(category)
        section = Section(f"{number}. {name}", sentences, [
            _platform_table(f"{name} – {label(kind)}" if len(by_kind) > 1 else name, rows, words)
            for kind, rows in by_kind])
        if with_charts:
            for kind, rows in by_kind:
                metric, scale, title, unit = (("mau_avg", words.users_scale, "chart_mau", "millions_users")
                                              if kind == "app" else
                                              ("sessions_per_month", words.visits_scale, "chart_visits",
                                               "millions_visits"))
                section.charts.append(charts.bar_chart(rows, metric, scale, f"{label(title)} – {name}", label(unit),
                                                       words))
        sections.append(section)

    if share and share["vn"]["platforms"] and share["foreign"]["platforms"]:
        share_section = Section(label("data_share"), share_sentences, [_share_table(share, words)])
        if with_charts:
            share_section.charts.append(charts.share_chart(share, words))
        sections.append(share_section)

    if figures["provincial"]:
        sections.append(Section(label("provincial"), provincial_sentences(figures["provincial"], words),
                                [_provincial_table(figures["provincial"], words)]))

    if figures.get("os"):
        sections.append(Section(label("os"), [label("os_note")], [_os_table(figures["os"], words)]))

    names = {row["platform"]: row["name"] for block in figures["categories"] for row in block["platforms"]}
    changes = version.changes
    change_section = Section(label("changes"), changes_sentences(changes, words))
    if changes.get("items"):
        change_section.tables.append(_changes_table(changes, names, words))
    for key in ("added", "removed"):
        if changes.get(key):
            change_section.sentences.append(f"{label(key)}: {', '.join(names.get(p, p) for p in changes[key])}.")
    sections.append(change_section)
    sections.append(_methodology_section(version, words))

    zone = ZoneInfo(((version.manifest.get("inputs") or {}).get("settings") or {}).get("timezone", REPORT_ZONE))
    meta = [(label("version"), str(version.version)),
            (label("created"), words.moment(version.created_at, zone)),
            (label("trigger"), label(f"trigger.{version.trigger}"))]
    demo = figures.get("demo")
    note = (label("demo").format(users=words.integer(demo["users"]), visits=words.integer(demo["visits"]))
            if demo else None)
    return Document(lang, label("title"), words.period(version.period), meta, note, highlights, sections)


# -- formats ----------------------------------------------------------------------------------------------
def render(version: SummaryVersion, fmt: str, lang: str = "vi") -> bytes:
    """The version in `fmt` (json, md, html, xlsx, csv) and `lang` (vi, en)."""
    if fmt == "json":
        return orjson.dumps(version.document())
    if fmt == "csv":
        return _csv(version, lang)
    document = build_document(version, lang, with_charts=fmt == "html")
    if fmt == "xlsx":
        return _xlsx(version, document)
    if fmt in {"md", "html"}:
        template = _environment.get_template(f"summary.{fmt}.j2")
        text = template.render(doc=document, lang=lang)
        return text.encode("utf-8")
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def filename(version: SummaryVersion, fmt: str) -> str:
    return f"vnmeter-summary-{version.period}-v{version.version}.{fmt}"


def render_files(version: SummaryVersion) -> dict[str, bytes]:
    """The version's files by name (v<n>.html, .md, .xlsx, .json; Vietnamese), exactly as `write_files` writes
    them: rendering is deterministic, so their SHA-256 in the manifest is that of every later rendering."""
    return {f"v{version.version}.{fmt}": render(version, fmt, "vi") for fmt in FILE_FORMATS}


def file_manifest(version: SummaryVersion, files: dict[str, bytes] | None = None) -> dict[str, Any]:
    """The manifest written beside the files: the stored one, with the files' SHA-256 (of `files`, rendered
    when not given, for a version stored without them)."""
    hashes = version.manifest.get("files") or {
        name: sha256(data) for name, data in (render_files(version) if files is None else files).items()}
    return {"period": version.period, "version": version.version, "inputs": version.manifest.get("inputs"),
            "method_changes": version.manifest.get("method_changes"), "files": hashes}


def write_files(version: SummaryVersion, data_dir: Path) -> dict[str, Path]:
    """Write the version's files and its manifest (v<n>.manifest.json) to <data_dir>/summaries/<period>/,
    atomically (a reader never sees half a file). Returns the paths by format, and 'manifest'."""
    folder = private_directory(data_dir / "summaries" / version.period)
    files = render_files(version)
    contents = {name.rsplit(".", 1)[1]: (name, data) for name, data in files.items()}
    contents["manifest"] = (f"v{version.version}.manifest.json",
                            orjson.dumps(file_manifest(version, files), option=orjson.OPT_INDENT_2))
    written = {}
    for key, (name, data) in contents.items():
        path = folder / name
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
        written[key] = path.resolve()
    return written


def _csv(version: SummaryVersion, lang: str) -> bytes:
    words = Words.for_figures(version.figures, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for block in version.figures["categories"]:
        for row in block["platforms"]:
            yoy = row.get("yoy") or {}
            values = {**row, "period": version.period, "category_label": words.category(block["category"]),
                      **{f"yoy_{k}": yoy.get(k) for k in ("mau_avg", "minutes_per_user_day", "mb_per_user_month",
                                                          "sessions_per_month")}}
            writer.writerow(["" if values.get(c) is None else values[c] for c in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _sheet_title(title: str, used: set[str]) -> str:
    base = SHEET_NAME_FORBIDDEN.sub("-", title)[:31]
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(name.lower())
    return name


XLSX_MIN_WIDTH = 8
XLSX_MAX_WIDTH = 60
"""Columns are as wide as their longest text (a header counts for at most XLSX_HEADER_WIDTH, it wraps), within
these bounds; a longer text wraps inside its cell."""
XLSX_HEADER_WIDTH = 24


def _fit_columns(sheet: Worksheet, rows: list[list[str]], header: bool) -> None:
    """Set each column's width from the texts shown in it (rows from the sheet's first row) and wrap the texts
    that do not fit."""
    widths: dict[int, int] = {}
    for number, row in enumerate(rows, start=1):
        for index, text in enumerate(row, start=1):
            length = min(len(text), XLSX_HEADER_WIDTH) if header and number == 1 else len(text)
            widths[index] = max(widths.get(index, 0), length)
            if len(text) > XLSX_MAX_WIDTH:
                sheet.cell(number, index).alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = max(XLSX_MIN_WIDTH, min(XLSX_MAX_WIDTH, width + 2))


def _xlsx(version: SummaryVersion, document: Document) -> bytes:
    workbook = Workbook()
    about = workbook.active
    assert about is not None
    used: set[str] = set()
    about.title = _sheet_title(LABELS[document.lang]["sheet_about"], used)
    about_rows = [[document.title, document.period], *([key, value] for key, value in document.meta),
                  *([[document.note]] if document.note else []), *([sentence] for sentence in document.highlights)]
    for line in about_rows:
        about.append(line)
    _fit_columns(about, about_rows, header=False)
    about["A1"].font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    for section in document.sections:
        for table in section.tables:
            sheet = workbook.create_sheet(_sheet_title(table.sheet, used))
            sheet.append(table.headers)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
                cell.fill = header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            for values, row in zip(table.raw(), table.rows, strict=True):
                sheet.append(values)
                if "excel" in row:  # a table of mixed figures carries each row's number format
                    sheet.cell(sheet.max_row, len(values)).number_format = row["excel"]
            for index, column in enumerate(table.columns, start=1):
                if column.excel != "General":
                    for cell in sheet[get_column_letter(index)][1:]:
                        cell.number_format = column.excel
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
            sheet.freeze_panes = "A2"
            texts = [table.headers, *table.text()]
            if section.notes:  # the methodology's paragraphs follow its definitions
                sheet.append([])
                texts.append([])
                for title, text in section.notes:
                    sheet.append([title, text])
                    texts.append([title, text])
            _fit_columns(sheet, texts, header=True)
    return _deterministic_xlsx(workbook, version.created_at)


def _deterministic_xlsx(workbook: Workbook, created_at: datetime) -> bytes:
    """The workbook's bytes, the same for the same content: the document's dates and every zip entry's time
    are the version's creation time (openpyxl stamps the time of saving), so the manifest's SHA-256 holds."""
    stamp = created_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.created = workbook.properties.modified = stamp
    saved = io.BytesIO()
    with ZipFile(saved, "w", ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    fixed = io.BytesIO()
    with ZipFile(io.BytesIO(saved.getvalue())) as source, ZipFile(fixed, "w", ZIP_DEFLATED) as target:
        for entry in source.infolist():
            timed = ZipInfo(entry.filename, date_time=stamp.timetuple()[:6])
            timed.compress_type = ZIP_DEFLATED
            target.writestr(timed, source.read(entry.filename))
    return fixed.getvalue()
