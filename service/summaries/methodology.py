"""The methodology statement of a summary version, in Vietnamese or English: definitions with their formulas,
time zone, active users, session limits, duplicates, late events and sealing, the suppression rule, the
revision policy and what changed since the previous version.

Built from the version's stored manifest (settings, seal state, ingestion counts) and changes only, so a
version always states the method it was made with. Definitions follow docs/METRICS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.summaries.text import Words

DEFINITIONS: dict[str, list[tuple[str, str]]] = {
    "vi": [
        ("mau(m)", "số người dùng khác nhau có ít nhất một phiên trên nền tảng trong tháng m"),
        ("Người dùng hằng tháng (TB)", "(mau(m1) + … + mau(mk)) / k, với k tháng của kỳ"),
        ("Người dùng hằng tháng (cao nhất)", "max mau(m) của kỳ; tháng cao nhất là tháng sớm nhất đạt giá trị đó"),
        ("dau(d)", "số người dùng khác nhau có ít nhất một phiên trong ngày d"),
        ("Phút/người/ngày", "tổng thời lượng phiên (giây) của kỳ / 60 / (dau(d1) + … + dau(dn))"),
        ("MB/người/tháng", "trung bình, trên các tháng có người dùng, của tổng dữ liệu phiên (byte) / 10^6 / mau(m)"),
        ("Giờ/người/tháng", "tổng thời lượng phiên (giây) / 3600 / (mau(m1) + … + mau(mk))"),
        ("Lượt truy cập/tháng", "số phiên của kỳ / k (website)"),
        ("Lượt tải; lượt tải lũy kế", "số sự kiện cài đặt trong kỳ; từ trước đến hết kỳ"),
        ("Tỷ lệ so với người dùng điện thoại thông minh",
         "người dùng hằng tháng (cao nhất) / số người dùng điện thoại thông minh của tỉnh"),
        ("So với cùng kỳ", "(v − v cùng kỳ năm trước) / v cùng kỳ năm trước"),
        ("Dữ liệu Việt Nam và nước ngoài", "trong Top ứng dụng của nhóm theo người dùng hằng tháng (TB), tổng "
                                          "MB/người/tháng theo nguồn gốc; tỷ lệ = tổng của nguồn / tổng hai nguồn"),
        ("Người dùng theo hệ điều hành", "(tổng qua các tháng của số người dùng có phiên với hệ điều hành đó) / k; "
                                         "một người dùng nhiều hệ điều hành được tính ở mỗi hệ điều hành"),
    ],
    "en": [
        ("mau(m)", "distinct users with at least one session on the platform in month m"),
        ("Monthly active users (avg)", "(mau(m1) + … + mau(mk)) / k over the period's k months"),
        ("Monthly active users (peak)", "the largest mau(m) of the period; its month is the earliest reaching it"),
        ("dau(d)", "distinct users with at least one session on day d"),
        ("Minutes/user/day", "the period's session seconds / 60 / (dau(d1) + … + dau(dn))"),
        ("MB/user/month", "mean, over the months with users, of the month's session bytes / 10^6 / mau(m)"),
        ("Hours/user/month", "session seconds / 3600 / (mau(m1) + … + mau(mk))"),
        ("Visits/month", "the period's sessions / k (websites)"),
        ("Installs; installs to date", "install events in the period; from the first up to the period's end"),
        ("Share of the province's smartphone users", "monthly active users (peak) / the province's smartphone users"),
        ("Year on year", "(v − v a year before) / v a year before"),
        ("Vietnamese and foreign data", "among the category's top apps by monthly active users (avg), the sum of "
                                        "MB/user/month per origin; share = an origin's sum / both sums"),
        ("Users by operating system", "(sum over the months of the users with a session on that system) / k; a "
                                      "user of several systems counts in each"),
    ],
}


@dataclass(frozen=True)
class Statement:
    """The methodology: titled paragraphs and the definitions (figure, formula)."""

    paragraphs: list[tuple[str, str]]
    definitions: list[tuple[str, str]]


def statement(version_changes: dict[str, Any], manifest: dict[str, Any], words: Words) -> Statement:
    inputs = manifest.get("inputs") or {}
    settings = inputs.get("settings") or {}
    vi = words.vi
    unknown = "không được ghi lại" if vi else "not recorded"

    def setting(name: str) -> str:
        value = settings.get(name)
        return unknown if value is None else (words.integer(value) if isinstance(value, int) else str(value))

    months = inputs.get("months") or []
    accepted = sum(m["accepted"] for m in months)
    duplicate = sum(m["duplicate"] for m in months)
    rejected = sum(sum(m["rejected"].values()) for m in months)
    counted = bool(accepted or duplicate or rejected)
    period_months = sorted({m["month"] for m in months})
    sealed = {m["month"]: m["sealed"] for m in months}
    states = {True: "đã niêm phong" if vi else "sealed", False: "chưa niêm phong" if vi else "open"}
    seal_state = ", ".join(f"{words.month_short(month)} {states[sealed[month]]}" for month in period_months) or unknown
    k = setting("min_cell_users")
    if vi:
        paragraphs = [
            ("Múi giờ", f"Ngày và tháng là ngày, tháng theo giờ {setting('timezone')}: một sự kiện lúc 17:30 UTC "
                        "ngày 31/3 được tính vào ngày 1/4."),
            ("Người dùng hoạt động", "Người dùng hoạt động là người có ít nhất một phiên (session) trên nền tảng; "
                                     "sự kiện cài đặt chỉ được tính là lượt tải. Người dùng là bí danh của mã người "
                                     "dùng do nền tảng gửi, riêng cho từng nền tảng và từng tháng, không liên kết "
                                     "giữa các nền tảng hay các tháng."),
            ("Giới hạn của phiên", f"Mỗi sự kiện ghi tối đa {setting('max_duration_s')} giây sử dụng và "
                                   f"{setting('max_bytes')} byte dữ liệu; sự kiện có thời điểm trước "
                                   f"{setting('earliest_ts')} hoặc muộn hơn thời điểm nhận quá "
                                   f"{setting('future_tolerance_s')} giây bị từ chối."),
            ("Sự kiện trùng", "Mỗi sự kiện có một mã event_id; sự kiện gửi lại (cùng nền tảng và mã) được ghi nhận "
                              "là trùng và không được tính lại. " + (
                                  f"Trong kỳ, hệ thống đã nhận {words.integer(accepted)} sự kiện, "
                                  f"{words.integer(duplicate)} sự kiện trùng và từ chối {words.integer(rejected)} sự "
                                  "kiện (chi tiết theo nền tảng, tháng và lý do trong manifest)." if counted else
                                  "Không có số đếm tiếp nhận nào được ghi lại cho kỳ này.")),
            ("Sự kiện đến muộn và niêm phong", "Sự kiện đến muộn được tính vào ngày, tháng xảy ra khi được nhận, "
                                               "nên số liệu của một tháng còn có thể thay đổi cho đến khi tháng đó "
                                               "được niêm phong (hủy khóa bí danh, không nhận thêm sự kiện). Tại "
                                               f"phiên bản này: {seal_state}."),
            ("Bảo vệ dữ liệu cá nhân", f"Trong bảng người dùng theo hệ điều hành (và theo tỉnh, quốc gia qua API), "
                                       f"một giá trị có dưới {k} người dùng trong một tháng nào đó của năm bị ẩn (x) "
                                       "trong mọi bảng của năm đó, cùng các giá trị bổ sung được chọn (nhỏ nhất "
                                       "trước) sao cho không ô ẩn nào suy ra được từ các số liệu đã công bố chính "
                                       f"xác hơn ±{k} người-tháng. Số liệu của từng nền tảng được công bố ở mọi quy "
                                       "mô."),
            ("Chính sách sửa đổi", "Mỗi phiên bản không bao giờ bị sửa. Báo cáo quý được tạo tự động sau khi hết "
                                   "quý và có thể được tạo lại; phiên bản mới tính lại toàn bộ từ dữ liệu đã lưu "
                                   "và liệt kê các số liệu thay đổi so với phiên bản trước. Manifest của mỗi phiên "
                                   "bản ghi dữ liệu, cách tính và mã băm của các tệp; lệnh `vnmeter summary verify` "
                                   "tính lại và so sánh với số liệu đã công bố."),
            ("Thay đổi so với phiên bản trước", _changed(version_changes, manifest, words)),
        ]
    else:
        paragraphs = [
            ("Time zone", f"Days and months are calendar days and months of {setting('timezone')}: an event at "
                          "17:30 UTC on 31 March counts on 1 April."),
            ("Active users", "An active user has at least one session on the platform; install events only count "
                             "as installs. A user is a pseudonym of the platform's user id, per platform and month, "
                             "never linked across platforms or months."),
            ("Session limits", f"Each event records at most {setting('max_duration_s')} seconds of use and "
                               f"{setting('max_bytes')} bytes of data; events dated before {setting('earliest_ts')} "
                               f"or more than {setting('future_tolerance_s')} seconds after their arrival are "
                               "rejected."),
            ("Duplicates", "Every event has an event_id; an event sent again (same platform and id) is recorded as "
                           "a duplicate and not counted again. " + (
                               f"For this period ingestion accepted {words.integer(accepted)} events, found "
                               f"{words.integer(duplicate)} duplicates and rejected {words.integer(rejected)} (by "
                               "platform, month and reason in the manifest)." if counted else
                               "No ingestion counts were recorded for this period.")),
            ("Late events and sealing", "A late event counts on its own day and month when it arrives, so a "
                                        "month's figures can change until the month is sealed (its pseudonym "
                                        f"keys destroyed, no more events accepted). At this version: {seal_state}."),
            ("Disclosure control", f"In the tables of users by operating system (and by province and country in the "
                                   f"API), a value with fewer than {k} users in some month of the year is hidden (x) "
                                   "in every table of that year, with complementary values (smallest first) chosen "
                                   "so that no hidden cell can be derived from the published figures to better than "
                                   f"±{k} user-months. Each platform's own figures are published at any size."),
            ("Revision policy", "A version is never changed. A quarter's summary is made on a schedule after the "
                                "quarter ends and can be made again; a new version recomputes everything from the "
                                "stored data and lists the figures that changed against the previous one. Each "
                                "version's manifest records its data, method and file hashes; `vnmeter summary "
                                "verify` recomputes and compares with the published figures."),
            ("Changes since the previous version", _changed(version_changes, manifest, words)),
        ]
    return Statement(paragraphs, DEFINITIONS[words.lang])


def _changed(changes: dict[str, Any], manifest: dict[str, Any], words: Words) -> str:
    against = changes.get("against_version")
    if against is None:
        return words.label("first_version")
    method = manifest.get("method_changes") or []
    figures = len(changes.get("items") or [])
    if words.vi:
        text = f"So với phiên bản {against}: {figures} số liệu thay đổi; cách tính: "
        return text + ("; ".join(_method_change(m) for m in method) if method else "không đổi") + "."
    text = f"Against version {against}: {figures} figures changed; method: "
    return text + ("; ".join(_method_change(m) for m in method) if method else "unchanged") + "."


def _method_change(change: dict[str, Any]) -> str:
    before, after = change["before"], change["after"]
    if isinstance(before, str) and len(before) == 64:  # a SHA-256: the file's text changed
        before, after = before[:12], (after or "")[:12]
    return f"{change['what']} {before} → {after}"
