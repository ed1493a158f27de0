"""publicity.notice_diff: the rows of a published notice read back from its HTML, and
what a correction adds, removes and changes."""

from __future__ import annotations

from publicity.notice_diff import ShownRow, diff, published_rows, shown
from publicity.notices import NoticeLine

HTML = (
    '<table id="lines"><thead><tr><th>报名号<br>Registration</th></tr></thead><tbody>\n'
    '<tr data-index="7"><td>R-0001</td><td>张*</td><td>p01</td>'
    '<td>缺席<br><span class="en">Absent</span></td>'
    '<td>未参加<br><span class="en">No attempt</span></td>'
    '<td><a href="/x">#7</a> <span class="check"></span></td></tr>\n'
    '<tr data-index="9"><td>R-0002</td><td>李&#42;</td><td>p01</td>'
    '<td>已参加<br><span class="en">Attended</span></td>'
    '<td>—<br><span class="en">—</span></td><td>#9</td></tr>\n'
    "</tbody></table>")


def row(reg: str, result: str = "缺席", name: str = "张*") -> ShownRow:
    return ShownRow(reg, name, "p01", result, "未参加")


def test_published_rows_read_the_chinese_text_of_each_cell() -> None:
    rows = published_rows(HTML.encode())
    assert rows == [ShownRow("R-0001", "张*", "p01", "缺席", "未参加"),
                    ShownRow("R-0002", "李*", "p01", "已参加", "—")]


def test_published_rows_of_a_page_without_lines_is_empty() -> None:
    assert published_rows(b"<html><table><tr><td>x</td></tr></table></html>") == []


def test_diff_finds_added_removed_and_changed_rows() -> None:
    before = [row("R-1"), row("R-2"), row("R-3")]
    after = [row("R-1"), row("R-2", result="补考"), row("R-4")]
    d = diff(before, after)
    assert [r.registration for r in d.added] == ["R-4"]
    assert [r.registration for r in d.removed] == ["R-3"]
    assert len(d.changed) == 1
    assert d.changed[0].before.result == "缺席"
    assert d.changed[0].after.result == "补考"
    assert d.changed[0].columns == ("result",)
    assert not d.empty


def test_diff_of_the_same_rows_is_empty_whatever_their_order() -> None:
    rows = [row("R-2"), row("R-1")]
    assert diff(rows, list(reversed(rows))).empty


def test_shown_takes_the_chinese_labels_of_a_line_and_ignores_its_index() -> None:
    line = NoticeLine("R-1", "张*", "p01", ("缺席", "Absent"), ("未参加", "No attempt"), 5)
    moved = NoticeLine("R-1", "张*", "p01", ("缺席", "Absent"), ("未参加", "No attempt"), 99)
    assert shown(line) == row("R-1")
    assert diff([shown(line)], [shown(moved)]).empty
