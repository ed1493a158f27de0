"""C2SP tlog-tiles: index encoding, tile paths, tile sets per tree size, entry bundles."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import BadData
from ledger.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    TileRef,
    bundles_for_size,
    decode_bundle,
    decode_index,
    encode_bundle,
    encode_index,
    split_tile,
    tiles_for_size,
)

# -- index encoding ---------------------------------------------------------------


def test_encode_index_spec_example() -> None:
    # tlog-tiles: "the index 1234067 will be encoded as x001/x234/067".
    assert encode_index(1234067) == "x001/x234/067"
    assert decode_index("x001/x234/067") == 1234067


def test_encode_index_small_and_boundaries() -> None:
    assert encode_index(0) == "000"
    assert encode_index(7) == "007"
    assert encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"
    assert encode_index(1_000_000) == "x001/x000/000"
    with pytest.raises(ValueError, match="non-negative"):
        encode_index(-1)


def _ref_encode(n: int) -> str:
    """Independent encoding: the decimal, left-padded to a multiple of 3, split in threes."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 2**64))
def test_index_round_trip(n: int) -> None:
    path = encode_index(n)
    assert path == _ref_encode(n)
    assert decode_index(path) == n


@pytest.mark.parametrize(
    "path",
    [
        "",
        "1",
        "12",
        "1234",
        "x1/234",
        "x001",
        "x001/",
        "/001",
        "001/002",
        "x001/x234/67",
        "x001/x234/0677",
        "X001/234",
        "x001/234/",
        "x001//234",
        "-01",
        "+01",
        "0x1",
        " 001",
        "001 ",
        "abc",
        pytest.param(
            "001\n",
        ),
        pytest.param(
            "\u0661\u0662\u0663",
        ),
        pytest.param(
            "x000/001",
        ),
    ],
)
def test_decode_index_rejects(path: str) -> None:
    with pytest.raises(BadData):
        decode_index(path)


# -- tile paths -------------------------------------------------------------------


def test_tile_paths() -> None:
    assert TileRef(0, 1234067).path() == "tile/0/x001/x234/067"
    assert TileRef(0, 1234067, 8).path() == "tile/0/x001/x234/067.p/8"
    assert TileRef(3, 0).path() == "tile/3/000"
    assert TileRef(None, 1234067).path() == "tile/entries/x001/x234/067"
    assert TileRef(None, 5, 255).path() == "tile/entries/005.p/255"
    assert TileRef(63, 0, 1).path() == "tile/63/000.p/1"
    assert not TileRef(0, 0).is_partial
    assert TileRef(0, 0, 255).is_partial


@settings(max_examples=200, deadline=None)
@given(
    level=st.none() | st.integers(0, 63),
    index=st.integers(0, 2**56),
    width=st.integers(1, TILE_WIDTH),
)
def test_tile_path_round_trip(level: int | None, index: int, width: int) -> None:
    ref = TileRef(level, index, width)
    path = ref.path()
    assert TileRef.parse(path) == ref
    assert TileRef.parse(path).path() == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/64/000",
        "tile/99/000",
        "tile/100/000",
        "tile/00/000",
        "tile/01/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile//000",
        "tile/0",
        "tile/0/",
        "tile/x/000",
        "tile/data/000",
        "tile/entry/000",
        "tiles/0/000",
        "/tile/0/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/300",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/0/000.p/1/2",
        "tile/0/000.p/1.p/2",
        "tile/0/0001",
        "tile/0/x1/000",
        "tile/entries/000.p/0",
        "tile/entries/000.p/256",
        pytest.param(
            "tile/1\u0661/000",
        ),
        pytest.param(
            "tile/0/000.p/1\u0660",
        ),
    ],
)
def test_tile_parse_rejects(path: str) -> None:
    with pytest.raises(BadData):
        TileRef.parse(path)


def test_tile_parse_names_the_bad_part() -> None:
    with pytest.raises(BadData) as info:
        TileRef.parse("tile/64/000")
    assert info.value.field == "L"
    with pytest.raises(BadData) as info:
        TileRef.parse("tile/0/000.p/256")
    assert info.value.field == "W"
    with pytest.raises(BadData) as info:
        TileRef.parse("tile/0/1234")
    assert info.value.field == "N"


# -- tiles per tree size ----------------------------------------------------------


def test_tiles_for_size_spec_example() -> None:
    """tlog-tiles: a tree of 70,000 leaves."""
    tiles = list(tiles_for_size(70000))
    level0 = [t for t in tiles if t.level == 0]
    assert level0[:273] == [TileRef(0, i) for i in range(273)]
    assert level0[273:] == [TileRef(0, 273, 112)]
    assert [t for t in tiles if t.level == 1] == [TileRef(1, 0), TileRef(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [TileRef(2, 0, 1)]
    assert len(tiles) == 273 + 1 + 2 + 1
    assert "tile/0/273.p/112" in {t.path() for t in tiles}
    assert "tile/1/001.p/17" in {t.path() for t in tiles}
    assert "tile/2/000.p/1" in {t.path() for t in tiles}


def test_tiles_for_size_256() -> None:
    assert list(tiles_for_size(256)) == [TileRef(0, 0), TileRef(1, 0, 1)]


def test_tiles_for_small_sizes() -> None:
    assert list(tiles_for_size(0)) == []
    assert list(tiles_for_size(1)) == [TileRef(0, 0, 1)]
    assert list(tiles_for_size(255)) == [TileRef(0, 0, 255)]
    assert list(tiles_for_size(257)) == [TileRef(0, 0), TileRef(0, 1, 1), TileRef(1, 0, 1)]


def _ref_tiles(size: int) -> list[TileRef]:
    """Level L holds one hash per complete subtree of 256**L leaves: size >> 8L of them."""
    out: list[TileRef] = []
    level = 0
    while True:
        hashes = size >> (8 * level)
        if hashes == 0:
            break
        out += [TileRef(level, i) for i in range(hashes // TILE_WIDTH)]
        if hashes % TILE_WIDTH:
            out.append(TileRef(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        level += 1
    return out


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 300_000) | st.sampled_from([65535, 65536, 65537, 16777216]))
def test_tiles_for_size_matches_reference(size: int) -> None:
    assert list(tiles_for_size(size)) == _ref_tiles(size)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 100_000))
def test_bundles_for_size(size: int) -> None:
    bundles = list(bundles_for_size(size))
    assert all(b.level is None for b in bundles)
    assert [b.index for b in bundles] == list(range(len(bundles)))
    assert sum(b.width for b in bundles) == size
    assert all(b.width == TILE_WIDTH for b in bundles[:-1])


# -- entry bundles ----------------------------------------------------------------


def test_bundle_format() -> None:
    entries = [b"", b"a", b"\x00" * 300]
    blob = encode_bundle(entries)
    assert blob == b"\x00\x00" + b"\x00\x01a" + struct.pack(">H", 300) + b"\x00" * 300
    assert decode_bundle(blob) == entries
    assert encode_bundle([]) == b""
    assert decode_bundle(b"") == []


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.binary(max_size=600), max_size=20))
def test_bundle_round_trip(entries: list[bytes]) -> None:
    blob = encode_bundle(entries)
    assert len(blob) == sum(2 + len(e) for e in entries)
    assert decode_bundle(blob) == entries


@settings(max_examples=50, deadline=None)
@given(entries=st.lists(st.binary(max_size=40), min_size=1, max_size=8))
def test_truncated_bundles(entries: list[bytes]) -> None:
    blob = encode_bundle(entries)
    boundaries = {0}
    pos = 0
    for e in entries:
        pos += 2 + len(e)
        boundaries.add(pos)
    for cut in range(len(blob)):
        if cut in boundaries:
            # A cut between entries is a shorter, valid bundle.
            assert decode_bundle(blob[:cut]) == entries[: sorted(boundaries).index(cut)]
        else:
            with pytest.raises(BadData):
                decode_bundle(blob[:cut])


def test_truncated_examples() -> None:
    with pytest.raises(BadData, match="length prefix"):
        decode_bundle(b"\x00")
    with pytest.raises(BadData, match="inside an entry"):
        decode_bundle(b"\x00\x05abcd")
    with pytest.raises(BadData, match="inside an entry"):
        decode_bundle(b"\xff\xff" + b"a" * 65534)


def test_entry_size_limit() -> None:
    big = b"x" * MAX_ENTRY_SIZE
    assert MAX_ENTRY_SIZE == 65535
    assert decode_bundle(encode_bundle([big, b"y"])) == [big, b"y"]
    with pytest.raises(BadData):
        encode_bundle([b"x" * (MAX_ENTRY_SIZE + 1)])
    with pytest.raises(BadData):
        encode_bundle([b"ok", b"x" * 100_000])


def test_split_tile() -> None:
    hashes = [bytes([i]) * 32 for i in range(256)]
    assert split_tile(b"".join(hashes)) == hashes
    assert split_tile(b"".join(hashes[:3])) == hashes[:3]
    for bad in (b"x", b"x" * 33, b"x" * (32 * 257)):
        with pytest.raises(BadData):
            split_tile(bad)
