"""The pages' words catalog (``words.toml`` through ``forms.words``) and ``Lang``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.app.web import forms
from ledger.app.web.forms import Lang, words


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A catalog file of the test's own in place of ``words.toml``."""
    file = tmp_path / "words.toml"
    monkeypatch.setattr(forms, "WORDS", file)
    forms._catalog.cache_clear()
    yield file
    forms._catalog.cache_clear()


def test_every_table_is_pairs_of_chinese_and_english() -> None:
    for area, tables in forms._catalog().items():
        for table in tables:
            pairs = words(f"{area}.{table}")
            assert pairs, f"{area}.{table} is empty"
            assert all(zh and en for zh, en in pairs.values())
    assert words("console.text")["sign_in"] == ("登录", "Sign in")


def test_a_table_keeps_the_file_order(catalog: Path) -> None:
    catalog.write_text('[area.kinds]\nzeta = ["乙", "z"]\nalpha = ["甲", "a"]\n',
                       encoding="utf-8")
    assert list(words("area.kinds")) == ["zeta", "alpha"]


def test_an_entry_that_is_not_a_pair_is_refused(catalog: Path) -> None:
    catalog.write_text('[area.text]\nok = ["好", "fine"]\nodd = ["只有中文"]\n',
                       encoding="utf-8")
    with pytest.raises(ValueError, match=r"area\.text\.odd"):
        words("area.text")


def test_a_table_may_be_extended_by_another_file(catalog: Path) -> None:
    catalog.write_text('[area.text]\nok = ["好", "fine"]\n', encoding="utf-8")
    (catalog.parent / "words_more.toml").write_text('[area.text]\nmore = ["多", "more"]\n',
                                                    encoding="utf-8")
    assert list(words("area.text")) == ["ok", "more"]


def test_a_key_defined_in_two_files_is_refused(catalog: Path) -> None:
    catalog.write_text('[area.text]\nok = ["好", "fine"]\n', encoding="utf-8")
    (catalog.parent / "words_more.toml").write_text('[area.text]\nok = ["行", "ok"]\n',
                                                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"area\.text\.ok is defined twice"):
        words("area.text")


def test_an_unknown_table_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        words("console.nothing")


def test_lang_attributes_follow_the_language() -> None:
    zh, en = Lang("zh"), Lang("en")
    assert (zh.html, zh.other, zh.other_html, zh.query) == ("zh-CN", "en", "en", "")
    assert (en.html, en.other, en.other_html, en.query) == ("en", "zh", "zh-CN", "?lang=en")
    assert Lang("en", words("console.text")).t("sign_in") == "Sign in"
