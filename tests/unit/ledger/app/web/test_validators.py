"""The bounded LRU of immutable representations the public read paths keep."""

from __future__ import annotations

from ledger.app.web.validators import ImmutableBytes, strong_etag


def test_the_lru_keeps_the_most_recent_within_its_byte_bound() -> None:
    lru = ImmutableBytes(max_bytes=1000)
    for i in range(50):
        lru.put(i, bytes(100), f"e{i}")
    assert len(lru) == 10
    assert lru.get(0) is None
    assert lru.get(40) == (bytes(100), "e40")
    lru.put(50, bytes(100), "e50")  # 41 is now the least recently used, not 40
    assert lru.get(41) is None
    assert lru.get(40) is not None


def test_a_representation_over_an_eighth_of_the_bound_is_not_kept() -> None:
    lru = ImmutableBytes(max_bytes=1000)
    lru.put("big", bytes(126), "big")
    assert lru.get("big") is None
    lru.put("small", bytes(125), "small")
    assert lru.get("small") == (bytes(125), "small")
    lru.clear()
    assert len(lru) == 0


def test_the_strong_etag_is_the_sha256_of_the_bytes() -> None:
    assert strong_etag(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
