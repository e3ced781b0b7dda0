"""The search columns and query pieces computed in Python (store/search.py)."""

from __future__ import annotations

from xueliang.store import search


def test_normalise_keeps_lower_cased_letters_and_digits() -> None:
    assert search.normalise(" 梅山路（K12）与 解放路-路口 ") == "梅山路k12与解放路路口"
    assert search.normalise(None) == "" and search.normalise("，。 _") == ""


def test_bigrams_are_distinct_in_first_seen_order() -> None:
    assert search.bigrams("路口路口") == ["路口", "口路"]
    assert search.bigrams("路") == [] and search.bigrams("") == []


def test_search_text_separates_fields_so_a_query_cannot_span_two() -> None:
    text = search.search_text("金安区路", "口岸大道", None, "34150200001320000001")
    assert text == "金安区路 口岸大道  34150200001320000001"
    assert "路口" not in text  # the query 路口 does not match 金安区路 + 口岸大道


def test_search_grams_cover_name_address_and_common_name_but_not_the_id() -> None:
    grams = search.search_grams(["金安区路口", "梅山路", "老邮局"]).split(" ")
    assert {"金安", "路口", "梅山", "邮局"} <= set(grams)
    assert len(grams) == len(set(grams))
    assert "路梅" not in grams  # no bigram across two fields


def test_id_prefix_queries_and_fts5_expressions() -> None:
    assert search.is_id_prefix_query("341502") and not search.is_id_prefix_query("34150")
    assert not search.is_id_prefix_query("３４１５０２")  # full-width digits are not an ID
    assert search.fts5_match_expression(["路口", 'a"b']) == '"路口" AND "a""b"'


def test_search_columns_equal_the_separate_functions() -> None:
    parts = ("金安区 梅山路（K12）东", "安徽省六安市金安区梅山路", None, "34150200001320000001")
    assert search.search_columns(*parts) == (search.search_text(*parts), search.search_grams(parts[:3]))
