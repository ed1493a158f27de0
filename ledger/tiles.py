"""C2SP tlog-tiles: tile coordinates, paths and entry bundles (pure).

https://c2sp.org/tlog-tiles: tiles are 256 hashes wide (height 8); the tile at level
L holds Merkle tree hashes of subtrees of 256**L leaves; entry bundles are big-endian
uint16 length-prefixed entries.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ledger.errors import BadData
from ledger.merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, 8,192 bytes when full
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF  # uint16 length prefix

_INDEX_ELEMENT = re.compile(r"(x[0-9]{3}/)*[0-9]{3}")


def encode_index(n: int) -> str:
    """Encode a tile index as zero-padded 3-digit path elements, all but the last 'x'-prefixed."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def decode_index(path: str) -> int:
    """Parse ``x001/x234/067`` back to 1234067.

    Raises:
        BadData: the path is not in the tlog-tiles index form.
    """
    if not _INDEX_ELEMENT.fullmatch(path):
        raise BadData(f"tile index {path!r} is not in the x001/x234/067 form", field="N")
    n = int(path.replace("x", "").replace("/", ""))
    if encode_index(n) != path:  # only the shortest encoding names a tile
        raise BadData(f"tile index {path!r} is not canonical (use {encode_index(n)!r})",
                      field="N")
    return n


@dataclass(frozen=True)
class TileRef:
    """A tile (``level`` >= 0) or an entry bundle (``level`` is None), with its width."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    def path(self) -> str:
        """The path below the log prefix, e.g. ``tile/0/x001/234.p/7``."""
        lvl = "entries" if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{lvl}/{encode_index(self.index)}{suffix}"

    @classmethod
    def parse(cls, path: str) -> TileRef:
        """Parse a path ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``.

        Raises:
            BadData: any part is malformed (names the part: L, N or W).
        """
        if not path.startswith("tile/"):
            raise BadData("tile path must start with tile/", field="path")
        rest = path[len("tile/") :]
        lvl_text, sep, rest = rest.partition("/")
        if not sep:
            raise BadData("tile path needs a level and an index", field="path")
        level: int | None
        if lvl_text == "entries":
            level = None
        else:
            if not re.fullmatch(r"0|[1-9][0-9]?", lvl_text) or int(lvl_text) > MAX_LEVEL:
                raise BadData(f"tile level {lvl_text!r} is not an integer 0..63", field="L")
            level = int(lvl_text)
        width = TILE_WIDTH
        if ".p/" in rest:
            rest, _, w_text = rest.partition(".p/")
            if not re.fullmatch(r"[1-9][0-9]{0,2}", w_text) or int(w_text) > 255:
                raise BadData(f"partial tile width {w_text!r} is not 1..255", field="W")
            width = int(w_text)
        return cls(level, decode_index(rest), width)


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every hash tile (all levels) a tree of ``size`` leaves is served as."""
    level = 0
    n = size
    while n > 0 or level == 0:
        full, partial = divmod(n, TILE_WIDTH)
        for i in range(full):
            yield TileRef(level, i)
        if partial:
            yield TileRef(level, full, partial)
        if full == 0:
            break
        n = full
        level += 1


def bundles_for_size(size: int) -> Iterator[TileRef]:
    """Every entry bundle of a tree of ``size`` leaves."""
    full, partial = divmod(size, TILE_WIDTH)
    for i in range(full):
        yield TileRef(None, i)
    if partial:
        yield TileRef(None, full, partial)


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenate entries with big-endian uint16 length prefixes.

    Raises:
        BadData: an entry is longer than 65,535 bytes.
    """
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise BadData("entry is longer than 65,535 bytes")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle into entries.

    Raises:
        BadData: a length prefix runs past the end of the data.
    """
    out = []
    pos = 0
    end = len(data)
    while pos < end:
        if pos + 2 > end:
            raise BadData("entry bundle ends inside a length prefix")
        n = (data[pos] << 8) | data[pos + 1]
        pos += 2
        if pos + n > end:
            raise BadData("entry bundle ends inside an entry")
        out.append(data[pos : pos + n])
        pos += n
    return out


def split_tile(data: bytes) -> list[bytes]:
    """Split a hash tile into 32-byte hashes.

    Raises:
        BadData: the length is not a multiple of 32 or exceeds 256 hashes.
    """
    if len(data) % HASH_SIZE or len(data) > TILE_WIDTH * HASH_SIZE:
        raise BadData(f"tile of {len(data)} bytes is not 1..256 SHA-256 hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
