"""Export a log as a static C2SP tlog-tiles directory, plus its ``keys`` file.

The directory has the same layout as the HTTP read API under ``/logs/<name>/``, so
``absentia verify`` reads either.  What the database holds is written as it is — the
export never repairs anything; judging it is the verifier's job.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.storage.store import LedgerStore
from ledger.tiles import bundles_for_size, tiles_for_size
from ledger.witness.client import cosigned_note


@dataclass(frozen=True)
class ExportResult:
    out: Path
    size: int
    files: int


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_log(
    store: LedgerStore, name: str, out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write log ``name`` at its latest checkpoint to ``out``.

    Raises:
        NotFound: no such log or no checkpoint.
    """
    cp = store.latest_checkpoint(name)
    refs = list(bundles_for_size(cp.size)) + list(tiles_for_size(cp.size))
    files = 0
    for n, ref in enumerate(refs, 1):
        _write(out / ref.path(), store.tile(name, ref, strict=False))
        files += 1
        if progress is not None:
            progress(n, len(refs))
    _write(out / "keys", "".join(k + "\n" for k in store.log(name).verifier_keys).encode())
    # Last, so that a reader never sees a checkpoint whose tiles are not there yet.
    _write(out / "checkpoint", cosigned_note(store, name, cp).encode())
    return ExportResult(out, cp.size, files + 2)
