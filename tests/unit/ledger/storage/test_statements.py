"""ledger.storage.statements: the append path's hot SQL, in each driver's parameter style.

The SQLite statements are run on a real database written by the store; the PostgreSQL
ones are checked for their style and their one row lock (no server here: the
functional tests run them on PostgreSQL).
"""

from __future__ import annotations

import json

import pytest

from ledger import merkle
from ledger.storage import LedgerStore
from ledger.storage.statements import HotSQL
from tests.unit.ledger.storage._store import LOG, T0, closed

#: How many parameters the store passes each statement (``ledger.storage.tail``).
ARITY = {"head": 1, "insert_entry": 6, "insert_node": 4, "update_head": 4}


@pytest.mark.parametrize(("dialect", "mark"), [("sqlite", "?"), ("postgresql", "%s")])
def test_each_statement_takes_the_parameters_the_store_passes(dialect: str, mark: str
                                                              ) -> None:
    sql = HotSQL.for_dialect(dialect)
    assert sql.mark == mark
    other = "%s" if mark == "?" else "?"
    for name, n in ARITY.items():
        text = getattr(sql, name)
        assert text.count(mark) == n, name
        assert other not in text, name
    assert sql.idem.count(mark) == 1  # the log id; the keys' marks are the CTE's


def test_only_postgresql_locks_the_head_row() -> None:
    pg, lite = HotSQL.for_dialect("postgresql"), HotSQL.for_dialect("sqlite")
    assert pg.head.endswith(" FOR UPDATE")
    assert "FOR UPDATE" not in lite.head  # SQLite: BEGIN IMMEDIATE holds the lock
    assert not any("FOR UPDATE" in s for s in (pg.idem, pg.insert_entry, pg.insert_node,
                                               pg.update_head))


def test_only_postgresql_appends_through_the_function() -> None:
    pg, lite = HotSQL.for_dialect("postgresql"), HotSQL.for_dialect("sqlite")
    assert lite.append is None  # SQLite: the three statements under BEGIN IMMEDIATE
    assert pg.append is not None
    assert "absentia_append(" in pg.append
    # log, expected size, new size, last leaf, frontier, 5 entry arrays, 3 node arrays
    assert pg.append.count("%s") == 13
    assert "FOR UPDATE" not in pg.head_read
    assert pg.head_read in pg.head


def test_the_sqlite_reads_see_what_the_store_wrote(store: LedgerStore) -> None:
    store.append_batch(LOG, [closed(1, key="k1"), closed(2), closed(3, key="k3")], T0)
    sql = HotSQL.for_dialect("sqlite")
    log_id = store.log(LOG).id
    with store.engine.connect() as conn:
        cur = conn.connection.cursor()
        cur.execute(sql.head, (log_id,))
        row = cur.fetchone()
        assert row is not None
        size, last_leaf, frontier = row
        cur.execute("WITH k(key) AS (VALUES (?),(?),(?)" + sql.idem,
                    ("k3", "k1", "absent", log_id))
        found = {key: (idx, bytes(lh), json.loads(data)["body"]["window"])
                 for key, idx, lh, data in cur.fetchall()}
        cur.close()
    head = store.head(LOG)
    assert size == head.size == 4
    assert merkle.CompactRange.from_bytes(size, bytes(frontier)).root() == head.root
    assert bytes(last_leaf) == merkle.leaf_hash(store.entry(LOG, 3))
    assert found == {"k1": (1, merkle.leaf_hash(store.entry(LOG, 1)), "w_1"),
                     "k3": (3, bytes(last_leaf), "w_3")}
