"""Words and numbers of a summary in Vietnamese (default) or English, in the wording of the ministry's reports.

Numbers are formatted with Babel for the language's locale ("74,7 triệu", "58,84%", "413,3 MB" in
Vietnamese). Sentences are built from a stored summary's figures only, so a version always reads the same.
In a demo store (figures["demo"] set) the sentences show user and visit counts multiplied back by the
demo's scale factors, so they can be read against the source report; tables keep the measured values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from queries.registry import CATEGORIES

LANGS = ("vi", "en")
LOCALES = {"vi": "vi_VN", "en": "en_US"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Đo lường hoạt động của người dân trên các nền tảng số",
        "version": "Phiên bản", "created": "Thời điểm tạo", "trigger": "Nguồn tạo",
        "highlights": "Điểm chính", "overview": "Tổng quan",
        "data_share": "Dữ liệu trên nền tảng Việt Nam và nước ngoài",
        "provincial": "Nền tảng số của địa phương", "changes": "Thay đổi so với phiên bản trước",
        "no_changes": "Không có số liệu nào thay đổi so với phiên bản {n}.",
        "first_version": "Đây là phiên bản đầu tiên của báo cáo kỳ này.",
        "rank": "Hạng", "platform": "Nền tảng", "origin": "Nguồn gốc", "kind": "Loại",
        "mau_avg": "Người dùng hằng tháng (TB)", "mau_peak": "Người dùng hằng tháng (cao nhất)",
        "mau_peak_month": "Tháng cao nhất", "minutes_per_user_day": "Phút/người/ngày",
        "mb_per_user_month": "MB/người/tháng", "sessions_per_month": "Lượt truy cập/tháng",
        "hours_per_user_month": "Giờ/người/tháng", "installs": "Lượt tải", "yoy": "So với cùng kỳ",
        "yoy.mau_avg": "So với cùng kỳ (người dùng)", "yoy.sessions_per_month": "So với cùng kỳ (lượt truy cập)",
        "yoy.minutes_per_user_day": "So với cùng kỳ (phút/ngày)", "yoy.mb_per_user_month": "So với cùng kỳ (MB)",
        "vn": "Việt Nam", "foreign": "Nước ngoài", "app": "Ứng dụng", "web": "Website",
        "total": "Tổng", "share": "Tỷ lệ", "ratio": "Gấp (lần)", "value": "MB/người/tháng",
        "province": "Tỉnh/thành", "smartphone_users": "Người dùng điện thoại thông minh",
        "penetration": "Tỷ lệ so với người dùng điện thoại thông minh", "installs_total": "Lượt tải lũy kế",
        "band": "Quy mô người dùng hằng tháng", "platforms": "Số nền tảng", "category": "Nhóm",
        "figure": "Số liệu", "before": "Trước", "after": "Sau", "relative": "Thay đổi",
        "subject": "Đối tượng", "mau_total": "Tổng người dùng hằng tháng của nền tảng Việt Nam",
        "platforms_active": "Nền tảng Việt Nam có người dùng",
        "share_of_users": "Tỷ lệ người dùng trên nền tảng Việt Nam",
        "metric": "Chỉ số", "chart_mau": "Người dùng hằng tháng trung bình",
        "chart_visits": "Lượt truy cập trung bình mỗi tháng",
        "chart_share": "Dữ liệu trung bình mỗi người dùng một tháng (MB)",
        "millions_users": "triệu người dùng", "millions_visits": "triệu lượt", "users": "người dùng", "visits": "lượt",
        "trigger.cli": "dòng lệnh", "trigger.api": "API", "trigger.schedule": "lịch tự động",
        "added": "Nền tảng mới có số liệu", "removed": "Nền tảng không còn số liệu",
        "demo": ("Dữ liệu minh họa do `vnmeter demo` tạo: số người dùng được thu nhỏ theo tỷ lệ 1:{users}, lượt truy "
                 "cập website (và người truy cập website) theo tỷ lệ 1:{visits}, số người dùng điện thoại thông minh "
                 "của các tỉnh theo tỷ lệ 1:{users}. Các bảng ghi số liệu đo được trên dữ liệu thu nhỏ; các câu nhận "
                 "xét và biểu đồ đã nhân lại theo tỷ lệ để đối chiếu với báo cáo Quý I/2022. Mỗi người dùng ứng dụng "
                 "chỉ hoạt động một ngày mỗi tháng, nên số giờ sử dụng mỗi tháng thấp hơn nhiều so với thực tế."),
        "sheet_overview": "Tổng quan", "sheet_share": "Dữ liệu VN - nước ngoài", "sheet_provincial": "Địa phương",
        "sheet_changes": "Thay đổi", "sheet_bands": "Quy mô", "sheet_about": "Thông tin",
        "os": "Người dùng theo hệ điều hành", "sheet_os": "Hệ điều hành",
        "os_note": ("Người dùng hằng tháng (TB) của mỗi nền tảng theo hệ điều hành của thiết bị. x: bị ẩn để bảo vệ "
                    "dữ liệu cá nhân (xem phần Phương pháp); –: không có người dùng trong năm."),
        "os.android": "Android", "os.ios": "iOS", "os.web": "Web", "os.other": "Khác", "os.": "Không rõ",
        "methodology": "Phương pháp", "sheet_methodology": "Phương pháp", "definition": "Định nghĩa",
    },
    "en": {
        "title": "Measuring citizens' activity on digital platforms",
        "version": "Version", "created": "Created", "trigger": "Made by",
        "highlights": "Highlights", "overview": "Overview", "data_share": "Data on Vietnamese and foreign platforms",
        "provincial": "Provincial platforms", "changes": "Changes since the previous version",
        "no_changes": "No figure changed since version {n}.",
        "first_version": "This is the first version of this period's summary.",
        "rank": "Rank", "platform": "Platform", "origin": "Origin", "kind": "Kind",
        "mau_avg": "Monthly active users (avg)", "mau_peak": "Monthly active users (peak)",
        "mau_peak_month": "Peak month", "minutes_per_user_day": "Minutes/user/day",
        "mb_per_user_month": "MB/user/month", "sessions_per_month": "Visits/month",
        "hours_per_user_month": "Hours/user/month", "installs": "Installs", "yoy": "Year on year",
        "yoy.mau_avg": "Year on year (users)", "yoy.sessions_per_month": "Year on year (visits)",
        "yoy.minutes_per_user_day": "Year on year (minutes/day)", "yoy.mb_per_user_month": "Year on year (MB)",
        "vn": "Vietnamese", "foreign": "Foreign", "app": "App", "web": "Website",
        "total": "Total", "share": "Share", "ratio": "Ratio", "value": "MB/user/month",
        "province": "Province", "smartphone_users": "Smartphone users",
        "penetration": "Share of the province's smartphone users", "installs_total": "Installs to date",
        "band": "Monthly active users", "platforms": "Platforms", "category": "Category",
        "figure": "Figure", "before": "Before", "after": "After", "relative": "Change",
        "subject": "Subject", "mau_total": "Monthly active users of Vietnamese platforms (sum)",
        "platforms_active": "Vietnamese platforms with users",
        "share_of_users": "Share of users on Vietnamese platforms",
        "metric": "Metric", "chart_mau": "Average monthly active users", "chart_visits": "Average visits per month",
        "chart_share": "Average data per user per month (MB)",
        "millions_users": "million users", "millions_visits": "million visits", "users": "users", "visits": "visits",
        "trigger.cli": "command line", "trigger.api": "API", "trigger.schedule": "schedule",
        "added": "Platforms newly with figures", "removed": "Platforms no longer with figures",
        "demo": ("Demonstration data made by `vnmeter demo`: users are scaled down 1:{users}, website visits (and "
                 "visitors) 1:{visits}, the provinces' smartphone users 1:{users}. Tables show the figures measured on "
                 "the scaled data; sentences and charts multiply them back by the scale to compare with the Q1/2022 "
                 "report. Each app user is active on one day a month, so hours per user per month are far below real "
                 "use."),
        "sheet_overview": "Overview", "sheet_share": "VN vs foreign data", "sheet_provincial": "Provinces",
        "sheet_changes": "Changes", "sheet_bands": "Bands", "sheet_about": "About",
        "os": "Users by operating system", "sheet_os": "Operating systems",
        "os_note": ("Each platform's monthly active users (avg) by the operating system of the device. x: hidden to "
                    "protect persons (see Methodology); –: no user in the year."),
        "os.android": "Android", "os.ios": "iOS", "os.web": "Web", "os.other": "Other", "os.": "Unknown",
        "methodology": "Methodology", "sheet_methodology": "Methodology", "definition": "Definition",
    },
}


def _rounded(value: float, digits: int) -> Decimal:
    """Half-up rounding (as printed reports do), not Babel's default half-even."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Words:
    """Formatting and wording for one language, with the demo's scale factors (1 for real data)."""

    lang: str = "vi"
    users_scale: int = 1
    visits_scale: int = 1

    @classmethod
    def for_figures(cls, figures: dict[str, Any], lang: str) -> Words:
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
        demo = figures.get("demo") or {}
        return cls(lang, int(demo.get("users", 1)), int(demo.get("visits", 1)))

    @property
    def vi(self) -> bool:
        return self.lang == "vi"

    def label(self, key: str) -> str:
        return LABELS[self.lang][key]

    def category(self, category: str) -> str:
        vi, en = CATEGORIES.get(category, (category, category))
        return vi if self.vi else en

    # -- numbers --------------------------------------------------------------------------------
    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(_rounded(value, digits), format=pattern, locale=LOCALES[self.lang])

    def fixed(self, value: float, digits: int) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(_rounded(value, digits), format=pattern, locale=LOCALES[self.lang])

    def count(self, value: float | None) -> str:
        """A number of users or visits as the reports write it: '74,7 triệu', '20 nghìn', '610.512'."""
        if value is None:
            return "–"
        if value >= 1e9:
            return f"{self.number(value / 1e9, 2)} {'tỷ' if self.vi else 'billion'}"
        if value >= 1e6:
            return f"{self.number(value / 1e6, 2)} {'triệu' if self.vi else 'million'}"
        if value >= 1e4 and round(value) % 1000 == 0:
            return f"{self.number(value / 1e3)} {'nghìn' if self.vi else 'thousand'}"
        return self.number(value, 0 if value >= 100 else 1)

    def integer(self, value: float | None) -> str:
        return "–" if value is None else self.number(value)

    def minutes(self, value: float | None) -> str:
        """'28 phút', '1 giờ 20 phút' (rounded to the minute)."""
        if value is None:
            return "–"
        total = int(_rounded(value, 0))
        hours, minutes = divmod(total, 60)
        if self.vi:
            return f"{hours} giờ {minutes} phút" if hours else f"{minutes} phút"
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"

    def minutes_seconds(self, value: float | None) -> str:
        """'34 phút 52 giây' (rounded to the second)."""
        if value is None:
            return "–"
        minutes, seconds = divmod(int(_rounded(value * 60, 0)), 60)
        return f"{minutes} phút {seconds} giây" if self.vi else f"{minutes} min {seconds} s"

    def mb(self, value: float | None, digits: int = 1) -> str:
        return "–" if value is None else f"{self.number(value, digits)} MB"

    def percent(self, value: float | None, digits: int = 2) -> str:
        return "–" if value is None else f"{self.fixed(value * 100, digits)}%"

    def change(self, value: float | None) -> str:
        """A relative change with its sign: '+53%', '-80%'."""
        if value is None:
            return "–"
        text = self.number(abs(value) * 100, 0 if abs(value) >= 0.1 else 1)
        return f"{'+' if value >= 0 else '-'}{text}%"

    def decimal(self, value: float | None, digits: int = 1) -> str:
        return "–" if value is None else self.number(value, digits)

    def moment(self, at: datetime, zone: ZoneInfo) -> str:
        """A time in `zone` with its offset: '10:15:03 ngày 7/4/2022 (UTC+07:00)' / '7 April 2022, 10:15:03
        (UTC+07:00)'."""
        local = at.astimezone(zone)
        offset = local.strftime("%z")
        shown = f"UTC{offset[:3]}:{offset[3:]}"
        if self.vi:
            return f"{local:%H:%M:%S} ngày {local.day}/{local.month}/{local.year} ({shown})"
        return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M:%S} ({shown})"

    # -- periods --------------------------------------------------------------------------------
    def period(self, label: str) -> str:
        """'2022-Q1' → 'Quý I/2022' / 'Q1 2022'; also halves, years and months."""
        if match := re.fullmatch(r"(\d{4})-Q(\d)", label):
            year, n = match.group(1), int(match.group(2))
            return f"Quý {ROMAN[n]}/{year}" if self.vi else f"Q{n} {year}"
        if match := re.fullmatch(r"(\d{4})-H(\d)", label):
            year, n = match.group(1), int(match.group(2))
            if self.vi:
                return f"6 tháng {'đầu' if n == 1 else 'cuối'} năm {year}"
            return f"H{n} {year}"
        if match := re.fullmatch(r"(\d{4})-(\d{2})", label):
            return self.month(label)
        return f"năm {label}" if self.vi else label

    def month(self, label: str | None) -> str:
        """'2022-02' → 'tháng 2/2022' / 'February 2022'."""
        if not label:
            return "–"
        year, month = label.split("-")
        return f"tháng {int(month)}/{year}" if self.vi else f"{MONTHS_EN[int(month) - 1]} {year}"

    def month_short(self, label: str | None) -> str:
        """'2022-02' → '2/2022' / 'Feb 2022' (tables)."""
        if not label:
            return "–"
        year, month = label.split("-")
        return f"{int(month)}/{year}" if self.vi else f"{MONTHS_EN[int(month) - 1][:3]} {year}"

    def names(self, names: list[str]) -> str:
        """'A, B và C' / 'A, B and C'."""
        joiner = " và " if self.vi else " and "
        if len(names) <= 1:
            return "".join(names)
        return ", ".join(names[:-1]) + joiner + names[-1]

    def ordinal(self, rank: int) -> str:
        if self.vi:
            return f"thứ {rank}"
        suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
        return f"{rank}{suffix}"

    # -- scaled counts for sentences ------------------------------------------------------------
    def users(self, value: float | None) -> str:
        return self.count(None if value is None else value * self.users_scale)

    def visits(self, value: float | None) -> str:
        return self.count(None if value is None else value * self.visits_scale)


# -- sentences ----------------------------------------------------------------------------------------
def category_sentences(block: dict[str, Any], figures: dict[str, Any], words: Words) -> list[str]:
    """The leader, the other Vietnamese apps, daily time, websites and large year-on-year changes of a category."""
    rows = block["platforms"]
    apps = [r for r in rows if r["kind"] == "app" and r["rank"] is not None]
    webs = [r for r in rows if r["kind"] == "web" and r["rank"] is not None]
    label = words.category(block["category"]).lower()
    out: list[str] = []
    if apps:
        leader = apps[0]
        if words.vi:
            out.append(f"{leader['name']} có trung bình khoảng {words.users(leader['mau_avg'])} người sử dụng hằng "
                       f"tháng, đứng đầu nhóm {label}.")
        else:
            out.append(f"{leader['name']} had about {words.users(leader['mau_avg'])} monthly active users on "
                       f"average, leading the {label} group.")
        for row in [r for r in apps[1:] if r["origin"] == "vn"][:5]:
            behind = row["rank"] == 2
            if words.vi:
                out.append(f"{row['name']} có trung bình khoảng {words.users(row['mau_avg'])} người sử dụng hằng "
                           f"tháng, xếp {words.ordinal(row['rank'])} trong nhóm"
                           + (f", chỉ xếp sau {leader['name']}." if behind else "."))
            else:
                out.append(f"{row['name']} had about {words.users(row['mau_avg'])} monthly active users on average, "
                           f"{words.ordinal(row['rank'])} in the group" + (f", behind only {leader['name']}."
                                                                           if behind else "."))
        out.extend(_time_sentences(apps, words))
    for row in webs[:5]:
        place_vi = "dẫn đầu nhóm" if row["rank"] == 1 else f"xếp {words.ordinal(row['rank'])}"
        place_en = "the most in the group" if row["rank"] == 1 else f"{words.ordinal(row['rank'])} in the group"
        if words.vi:
            out.append(f"Tổng số lượt truy cập trung bình hằng tháng của {row['name']} là "
                       f"{words.visits(row['sessions_per_month'])} lượt, {place_vi}.")
        else:
            out.append(f"{row['name']} had {words.visits(row['sessions_per_month'])} visits a month on average, "
                       f"{place_en}.")
    out.extend(change_sentences(rows, figures, words))
    return out


def _time_sentences(apps: list[dict[str, Any]], words: Words) -> list[str]:
    out: list[str] = []
    vietnamese = [r for r in apps if r["origin"] == "vn" and r["minutes_per_user_day"] is not None]
    if not vietnamese:
        return out
    first = vietnamese[0]
    foreign = [r for r in apps if r["origin"] == "foreign" and r["minutes_per_user_day"] is not None][:2]
    if words.vi:
        compared = ", ".join(f"{r['name']} (~{words.minutes(r['minutes_per_user_day'])})" for r in foreign)
        out.append(f"Thời gian mỗi người sử dụng {first['name']} trung bình hằng ngày là "
                   f"~{words.minutes(first['minutes_per_user_day'])}" + (f" so với {compared}." if compared else "."))
        if first["mb_per_user_month"] is not None:
            out.append(f"Mỗi người sử dụng {first['name']} tiêu thụ khoảng {words.mb(first['mb_per_user_month'])} "
                       "dữ liệu một tháng.")
    else:
        compared = ", ".join(f"{r['name']} (~{words.minutes(r['minutes_per_user_day'])})" for r in foreign)
        out.append(f"Each {first['name']} user spent ~{words.minutes(first['minutes_per_user_day'])} a day on it"
                   + (f", against {compared}." if compared else "."))
        if first["mb_per_user_month"] is not None:
            out.append(f"Each {first['name']} user used about {words.mb(first['mb_per_user_month'])} of data a month.")
    longest = max(vietnamese, key=lambda r: r["minutes_per_user_day"])
    if len(vietnamese) >= 3 and longest is not first:
        if words.vi:
            out.append(f"Đáng chú ý, {longest['name']} có thời gian sử dụng trung bình của mỗi người dùng trong một "
                       f"ngày cao nhất nhóm, khoảng {words.minutes(longest['minutes_per_user_day'])} mỗi ngày.")
        else:
            out.append(f"Notably, {longest['name']} had the group's longest daily use per user, about "
                       f"{words.minutes(longest['minutes_per_user_day'])} a day.")
    return out


def change_sentences(rows: list[dict[str, Any]], figures: dict[str, Any], words: Words) -> list[str]:
    """Year-on-year changes at least as large as the summary's threshold, platforms with the same rounded
    change grouped: 'Số lượng người sử dụng An Vui và Vé xe rẻ sụt giảm khoảng 80% so với cùng kỳ Quý I/2021.'"""
    threshold = figures["thresholds"]["large_change"]
    year_before = words.period(figures["period"]["year_before"])
    groups: dict[tuple[str, bool, int], list[str]] = {}
    for row in rows:
        metric = "mau_avg" if row["kind"] == "app" else "sessions_per_month"
        change = (row.get("yoy") or {}).get(metric)
        if change is None or abs(change) < threshold:
            continue
        key = (metric, change < 0, int(_rounded(abs(change) * 100, 0)))
        groups.setdefault(key, []).append(row["name"])
    out = []
    for (metric, fell, percent), names in sorted(groups.items(), key=lambda item: (item[0][1], -item[0][2])):
        who = words.names(names)
        if words.vi:
            subject = "Số lượng người sử dụng" if metric == "mau_avg" else "Số lượt truy cập"
            verb = "sụt giảm" if fell else "tăng"
            out.append(f"{subject} {who} {verb} khoảng {percent}% so với cùng kỳ {year_before}.")
        else:
            subject = "The number of users of" if metric == "mau_avg" else "Visits to"
            verb = "fell" if fell else "rose"
            out.append(f"{subject} {who} {verb} by about {percent}% from {year_before}.")
    return out


def data_share_sentences(share: dict[str, Any] | None, figures: dict[str, Any], words: Words) -> list[str]:
    if not share:
        return []
    vn, foreign = share["vn"], share["foreign"]
    top = figures["thresholds"]["data_share_top"]
    label = words.category(share["category"]).lower()
    vn_names = words.names([p["name"] for p in vn["platforms"]])
    foreign_names = words.names([p["name"] for p in foreign["platforms"]])
    ratio = share["ratio_vn_to_foreign"]
    if not vn["platforms"] or not foreign["platforms"] or ratio is None:
        return []
    if words.vi:
        comparison = (f"nhiều hơn {words.fixed(ratio, 2)} lần" if ratio >= 1
                      else f"chỉ bằng {words.fixed(ratio, 2)} lần")
        return [f"Trong Top {top} ứng dụng {label}, tổng lượng dữ liệu trung bình mỗi người dùng tạo ra, trao đổi "
                f"hằng tháng trên {vn_names} xấp xỉ {words.mb(vn['total'], 0)} (~{words.percent(vn['share'])} toàn "
                f"thị trường), {comparison} so với tổng lượng dữ liệu trao đổi trên {len(foreign['platforms'])} nền "
                f"tảng nước ngoài (tổng {foreign_names} là {words.mb(foreign['total'])}, chiếm "
                f"{words.percent(foreign['share'])})."]
    return [f"Among the top {top} {label} apps, the average monthly data each user exchanged on {vn_names} came to "
            f"about {words.mb(vn['total'], 0)} (~{words.percent(vn['share'])} of the total), {words.fixed(ratio, 2)} "
            f"times that on the {len(foreign['platforms'])} foreign platforms ({foreign_names}: "
            f"{words.mb(foreign['total'])}, {words.percent(foreign['share'])})."]


def band_text(band: dict[str, Any], words: Words) -> str:
    low, high = band["min"] * words.users_scale, band["max"] * words.users_scale if band["max"] else None
    if words.vi:
        if high is None:
            return f"từ {words.count(low)} trở lên"
        return f"dưới {words.count(high)}" if low == 0 else f"từ {words.count(low)} đến dưới {words.count(high)}"
    if high is None:
        return f"{words.count(low)} or more"
    return f"under {words.count(high)}" if low == 0 else f"{words.count(low)} to under {words.count(high)}"


def overview_sentences(overview: dict[str, Any], figures: dict[str, Any], words: Words) -> list[str]:
    period = words.period(figures["period"]["label"])
    bands = [b for b in reversed(overview["bands"]) if b["min"] > 0]
    if words.vi:
        parts = [f"{b['platforms']} nền tảng có " + (f"từ {words.count(b['min'] * words.users_scale)} người sử dụng "
                                                     "hằng tháng trở lên" if b["max"] is None else
                                                     f"{band_text(b, words)} người sử dụng hằng tháng")
                 for b in bands]
        out = [f"Trong {period}, có {overview['platforms_active']} nền tảng số Việt Nam có người sử dụng"
               + (f"; {'; '.join(parts)}." if parts else ".")]
        out.append(f"Tổng số người sử dụng hằng tháng của các nền tảng số Việt Nam là khoảng "
                   f"{words.users(overview['mau_total'])}"
                   + (f"; mỗi người dùng sử dụng trung bình {words.decimal(overview['hours_per_user_month'])} giờ mỗi "
                      "tháng" if overview["hours_per_user_month"] is not None else "")
                   + (f"; nền tảng số Việt Nam chiếm {words.percent(overview['share_of_users'], 1)} số người dùng "
                      "trên các nền tảng được đo" if overview["share_of_users"] is not None else "") + ".")
        return out
    parts = [f"{b['platforms']} with {band_text(b, words)} monthly active users" for b in bands]
    out = [f"In {period}, {overview['platforms_active']} Vietnamese platforms had users"
           + (f"; {'; '.join(parts)}." if parts else ".")]
    out.append(f"Their monthly active users added up to about {words.users(overview['mau_total'])}"
               + (f"; each user spent {words.decimal(overview['hours_per_user_month'])} hours a month on them"
                  if overview["hours_per_user_month"] is not None else "")
               + (f"; Vietnamese platforms had {words.percent(overview['share_of_users'], 1)} of the users of all "
                  "measured platforms" if overview["share_of_users"] is not None else "") + ".")
    return out


def provincial_sentences(rows: list[dict[str, Any]], words: Words) -> list[str]:
    out = []
    for row in rows:
        if words.vi:
            text = (f"{row['name']} ({row['province_name']}): số lượng người dùng thường xuyên hằng tháng (MAU) cao "
                    f"điểm đạt {words.integer(row['mau_peak'] * words.users_scale)} người dùng "
                    f"({words.month(row['mau_peak_month'])})")
            if row["penetration"] is not None:
                text += (f", tương đương {words.percent(row['penetration'], 1)} tổng số người dân "
                         f"{row['province_name']} có sử dụng điện thoại di động thông minh")
            if row["minutes_per_user_day"] is not None:
                text += (f"; thời gian sử dụng trung bình hằng ngày của mỗi người dùng là "
                         f"{words.minutes_seconds(row['minutes_per_user_day'])}")
            if row["installs_total"]:
                text += f"; tổng số lượt tải lũy kế đạt {words.integer(row['installs_total'] * words.users_scale)} lượt"
        else:
            text = (f"{row['name']} ({row['province_name']}): peak monthly active users reached "
                    f"{words.integer(row['mau_peak'] * words.users_scale)} ({words.month(row['mau_peak_month'])})")
            if row["penetration"] is not None:
                text += (f", {words.percent(row['penetration'], 1)} of the province's smartphone users")
            if row["minutes_per_user_day"] is not None:
                text += f"; each user spent {words.minutes_seconds(row['minutes_per_user_day'])} a day on it"
            if row["installs_total"]:
                text += f"; {words.integer(row['installs_total'] * words.users_scale)} installs to date"
        out.append(text + ".")
    return out


def figure_label(figure: str, words: Words) -> str:
    labels = LABELS[words.lang]
    if figure.startswith(("vn.", "foreign.")):
        side, name = figure.split(".", 1)
        return f"{labels[side]} – {labels.get(name, name)}"
    if figure.startswith("os."):
        return f"{labels['os']} – {labels.get(figure, figure[3:])}"
    return labels.get(figure, figure)


def format_figure(figure: str, value: Any, words: Words) -> str:
    """A figure's value for the changes table, in the figure's own unit."""
    if value is None:
        return "–"
    name = figure.split(".")[-1]
    if figure.startswith("yoy.") or name in {"share", "share_of_users", "penetration"}:
        return words.percent(value, 2)
    if name in {"minutes_per_user_day", "hours_per_user_month", "ratio_vn_to_foreign"}:
        return words.decimal(value, 2)
    if name in {"mb_per_user_month", "total"}:
        return words.mb(value, 2)
    if isinstance(value, float) and not value.is_integer():
        return words.decimal(value, 2)
    return words.integer(value)


def changes_sentences(changes: dict[str, Any], words: Words) -> list[str]:
    against = changes.get("against_version")
    if against is None:
        return [words.label("first_version")]
    if not changes["items"] and not changes["added"] and not changes["removed"]:
        return [words.label("no_changes").format(n=against)]
    moved = len(changes["items"])
    if words.vi:
        return [f"So với phiên bản {against}, {moved} số liệu đã thay đổi do có thêm hoặc bớt dữ liệu."]
    return [f"Against version {against}, {moved} figures changed because data arrived or was removed."]
