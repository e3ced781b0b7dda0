"""Text search over cameras that works for two-character Chinese queries (路口), which trigram indexes miss.

Every camera row carries two columns computed here, in Python, when it is written:

- ``search_text``: the lower-cased letters and digits of name, install address, point common name and platform
  ID, one field after another separated by a space (so a query, which never holds a space, cannot match across
  two fields);
- ``search_grams``: the distinct character bigrams of name, address and point common name (normalised the same
  way, per field), separated by spaces.

A query is normalised the same way. Two characters or more: every bigram of the query must be among the row's
grams (an index answers that: FTS5 on SQLite, GIN over ``string_to_array`` on PostgreSQL), then
``search_text LIKE '%q%'`` keeps only exact substrings. One character: the LIKE alone. Six digits or more: also
a platform ID prefix match. See docs/architecture.md, section "Search".
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Text, bindparam, column, func, literal, literal_column, text, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

#: Below this many digits a digit-only query is not treated as the start of a platform ID.
ID_PREFIX_MIN_DIGITS = 6


_NOT_ALNUM = re.compile(r"[\W_]+")  # \w is str.isalnum() plus "_"


def normalise(text: str | None) -> str:
    """Lower-cased letters and digits of ``text``; everything else (spaces, punctuation) dropped."""
    if not text:
        return ""
    return _NOT_ALNUM.sub("", text.lower())


def bigrams(normalised: str) -> list[str]:
    """The distinct bigrams of an already normalised string, in order of first appearance."""
    return list(dict.fromkeys(map(operator.add, normalised, normalised[1:])))


def search_text(name: str | None, address: str | None, common_name: str | None, platform_id: str | None) -> str:
    return " ".join(normalise(part) for part in (name, address, common_name, platform_id))


def search_grams(texts: Iterable[str | None]) -> str:
    seen: dict[str, None] = {}
    for field_text in texts:
        if field_text:
            norm = normalise(field_text)
            seen.update(dict.fromkeys(map(operator.add, norm, norm[1:])))
    return " ".join(seen)


def search_columns(
    name: str | None, address: str | None, common_name: str | None, platform_id: str | None
) -> tuple[str, str]:
    """(search_text, search_grams) of one camera, each field normalised once."""
    fields = [_NOT_ALNUM.sub("", text.lower()) if text else "" for text in (name, address, common_name)]
    grams: dict[str, None] = {}
    for norm in fields:
        grams.update(dict.fromkeys(map(operator.add, norm, norm[1:])))
    fields.append(normalise(platform_id))
    return " ".join(fields), " ".join(grams)


def is_id_prefix_query(normalised_query: str) -> bool:
    return len(normalised_query) >= ID_PREFIX_MIN_DIGITS and normalised_query.isascii() and normalised_query.isdigit()


def fts5_match_expression(grams: Iterable[str]) -> str:
    """An FTS5 MATCH string ANDing the grams as quoted strings (grams hold letters and digits only)."""
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


# ---------------------------------------------------------------------------------------------- SQL per dialect

#: SQLite: when the grams of a query match at most this many rows, the list is driven by those row ids;
#: beyond it the grams are common (路口 is in most addresses) and scanning in sort order with the LIKE stops
#: sooner than fetching every matching row id.
SQLITE_PROBE_LIMIT = 2000


def postgres_grams_contain(grams_column: Any, grams: list[str]) -> ColumnElement[bool]:
    """``string_to_array(search_grams, ' ') @> ARRAY[...]``: the GIN index ``ix_camera_search_grams`` answers it.

    The separator is a literal (not a bound parameter) so the expression matches the index even in the generic
    plans of prepared statements.
    """
    as_array = func.string_to_array(grams_column, literal_column("' '"), type_=ARRAY(Text))
    return as_array.op("@>")(literal(grams, ARRAY(Text)))


def sqlite_grams_match(session: Session, id_column: Any, grams: list[str], normalised: str) -> ColumnElement[bool]:
    """The condition "every gram is among the row's grams", through the FTS5 table ``camera_search``.

    Probes the index first (at most SQLITE_PROBE_LIMIT + 1 row ids): a rare query becomes ``id IN (...)``; a
    common one with a non-digit character needs no gram condition at all, because then ``LIKE '%q%'`` on
    search_text implies it (the query lies inside one text field, so its bigrams are that field's bigrams).
    """
    match = fts5_match_expression(grams)
    probe = text("SELECT rowid FROM camera_search WHERE camera_search MATCH :match LIMIT :limit")
    rowids = list(session.scalars(probe, {"match": match, "limit": SQLITE_PROBE_LIMIT + 1}))
    if len(rowids) <= SQLITE_PROBE_LIMIT:
        # rendered inline (integers from the index): a division filter repeats the condition in up to 32 branches,
        # which as bound parameters could pass SQLite's limit of 32,766 per statement
        ids: BindParameter[int] = bindparam("fts_rowids", rowids, expanding=True, literal_execute=True)
        return cast("ColumnElement[bool]", id_column.in_(ids))
    if not normalised.isdigit():
        return true()
    subquery = text("SELECT rowid FROM camera_search WHERE camera_search MATCH :match").bindparams(match=match)
    return cast("ColumnElement[bool]", id_column.in_(subquery.columns(column("rowid"))))
