"""A C2SP tlog-witness: its key, its own database of witnessed logs, its HTTP endpoint.

For every log it witnesses (origin and the log's verifier keys, from its config file or
``absentia witness add-log``) the witness keeps the latest size and root it cosigned, in
its own database (SQLite by default).  ``POST /add-checkpoint`` checks the log's
signature, that the client's ``old`` size is the witness's size, the consistency proof
from the stored root, and a same-size root for a split view; the state then moves
forward with a compare-and-swap (two requests can never both advance it, nor roll it
back) and only then is the cosignature returned.
"""

from __future__ import annotations

import base64
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, Response, request
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger import merkle
from ledger.app.web import problems
from ledger.checkpoint import Checkpoint
from ledger.entry import format_time
from ledger.errors import BadData, CouldNotCheck, VerificationError
from ledger.keys import read_private_key, write_private_key
from ledger.note import Ed25519Verifier, SignedNote
from ledger.storage.db import make_engine, write_transaction
from ledger.witness.cosig import CosignatureV1Signer
from ledger.witness.protocol import SIZE_MEDIA_TYPE, AddCheckpoint

#: The witness's own tables (not the ledger's: a witness is another party).
witness_metadata = MetaData()

witnessed_logs = Table(
    "witness_logs",
    witness_metadata,
    Column("origin", String(255), primary_key=True),
    Column("vkeys", Text, nullable=False),  # the log's verifier keys, one a line
    Column("size", BigInteger, nullable=False),  # the latest cosigned size (0: none yet)
    Column("root", LargeBinary(32), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

MAX_BODY = 1 << 20
DEFAULT_PORT = 7380


# -- configuration and key ----------------------------------------------------------------

@dataclass(frozen=True)
class WitnessedLogConfig:
    origin: str
    vkeys: tuple[str, ...]


@dataclass(frozen=True)
class WitnessConfig:
    name: str
    key_path: Path
    database_url: str
    host: str
    port: int
    logs: tuple[WitnessedLogConfig, ...]
    path: Path


def load_witness_config(path: Path) -> WitnessConfig:
    """Read a witness config file (TOML); relative paths are below its directory.

    Raises:
        BadData: missing, not TOML, or a value of the wrong type (the message names it).
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadData(f"witness config {path} not found; create one with "
                      "`absentia witness init --dir DIR --name NAME`") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadData(f"witness config {path} is not valid TOML: {exc}") from exc
    base = path.resolve().parent

    def text(key: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise BadData(f"witness config {path}: {key} must be a non-empty string",
                          field=key)
        return value.replace("{dir}", str(base))

    port = raw.get("port", DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise BadData(f"witness config {path}: port must be an integer 1..65535", field="port")
    logs = []
    for i, item in enumerate(raw.get("logs", [])):
        origin, vkeys = item.get("origin"), item.get("vkeys")
        if not isinstance(origin, str) or not origin:
            raise BadData(f"witness config {path}: logs[{i}].origin must be a string",
                          field=f"logs[{i}].origin")
        if not isinstance(vkeys, list) or not vkeys or not all(isinstance(v, str)
                                                                for v in vkeys):
            raise BadData(f"witness config {path}: logs[{i}].vkeys must be a list of "
                          "verifier keys", field=f"logs[{i}].vkeys")
        for v in vkeys:
            Ed25519Verifier.from_vkey(v)
        logs.append(WitnessedLogConfig(origin, tuple(vkeys)))
    key = Path(text("key"))
    return WitnessConfig(
        name=text("name"), key_path=key if key.is_absolute() else base / key,
        database_url=text("database_url", "sqlite:///{dir}/witness.db"),
        host=text("host", "127.0.0.1"), port=port, logs=tuple(logs), path=path.resolve())


def create_key(path: Path) -> Ed25519PrivateKey:
    """Write a fresh Ed25519 key to ``path`` (mode 0600, its directory 0700).

    Raises:
        CouldNotCheck: the file exists or cannot be written.
    """
    private = Ed25519PrivateKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise CouldNotCheck(f"cannot create the witness key's directory: {exc}") from exc
    write_private_key(path, private, "the witness key")
    return private


def load_key(path: Path) -> Ed25519PrivateKey:
    """Load the witness key (PKCS#8 PEM Ed25519), refusing a file others can read.

    Raises:
        NotAllowed: the file is readable by group or others.
        CouldNotCheck: missing, unreadable or not an Ed25519 key.
    """
    return read_private_key(path, "the witness key",
                            "create it with `absentia witness init`")


# -- state -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WitnessedLog:
    origin: str
    vkeys: tuple[str, ...]
    size: int
    root: bytes
    updated_at: str

    def verifiers(self) -> list[Ed25519Verifier]:
        return [Ed25519Verifier.from_vkey(v) for v in self.vkeys]


class WitnessDatabase:
    """The witnessed logs in the witness's own database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with write_transaction(engine) as conn:
            witness_metadata.create_all(conn)

    def add_log(self, origin: str, vkeys: tuple[str, ...], now: datetime) -> WitnessedLog:
        """Witness ``origin`` with these keys (its size is kept if it was known).

        Raises:
            BadData: the origin or a key is malformed.
        """
        empty = base64.b64encode(merkle.EMPTY_ROOT).decode()
        Checkpoint.from_body(f"{origin}\n0\n{empty}\n")  # raises unless a valid origin
        for v in vkeys:
            Ed25519Verifier.from_vkey(v)
        text = "\n".join(vkeys)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(insert(witnessed_logs).values(
                    origin=origin, vkeys=text, size=0, root=merkle.EMPTY_ROOT,
                    updated_at=format_time(now)))
        except IntegrityError:
            with write_transaction(self.engine) as conn:
                conn.execute(update(witnessed_logs).where(witnessed_logs.c.origin == origin)
                             .values(vkeys=text))
        found = self.get(origin)
        assert found is not None
        return found

    def get(self, origin: str) -> WitnessedLog | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(witnessed_logs).where(
                witnessed_logs.c.origin == origin)).first()
        if row is None:
            return None
        return WitnessedLog(row.origin, tuple(v for v in row.vkeys.split("\n") if v),
                            int(row.size), bytes(row.root), row.updated_at)

    def all(self) -> list[WitnessedLog]:
        with self.engine.connect() as conn:
            origins = conn.execute(select(witnessed_logs.c.origin)
                                   .order_by(witnessed_logs.c.origin)).scalars().all()
        return [w for o in origins if (w := self.get(o)) is not None]

    def advance(self, origin: str, old: tuple[int, bytes], new: tuple[int, bytes],
                now: datetime) -> bool:
        """Compare-and-swap: move ``origin`` from ``old`` (size, root) to ``new``.

        Returns False (and changes nothing) if the stored state is no longer ``old``.
        """
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(witnessed_logs).where(
                    witnessed_logs.c.origin == origin, witnessed_logs.c.size == old[0],
                    witnessed_logs.c.root == old[1])
                .values(size=new[0], root=new[1], updated_at=format_time(now)))
            return done.rowcount == 1


# -- the add-checkpoint logic --------------------------------------------------------------

class WitnessRefusal(Exception):
    """A refused ``add-checkpoint``: the HTTP status, a message, and for a 409 about the
    old size the witness's own size (sent as ``text/x.tlog.size``)."""

    def __init__(self, status: int, message: str, *, size: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size
        self.field = field


class Witness:
    """Checks checkpoints against the recorded state and cosigns them."""

    def __init__(self, signer: CosignatureV1Signer, state: WitnessDatabase) -> None:
        self.signer = signer
        self.state = state

    def add_checkpoint(self, body: bytes, now: datetime) -> str:
        """Handle an ``add-checkpoint`` request body; return the cosignature line(s).

        Raises:
            WitnessRefusal: 400 malformed, 403 no trusted signature, 404 unknown origin,
                409 old size is not the witness's size (``size`` set) or a split view
                (same size, other root), 422 the consistency proof does not verify.
        """
        try:
            req = AddCheckpoint.parse(body)
            note = SignedNote.parse(req.checkpoint)
            cp = Checkpoint.from_body(note.text)
        except BadData as exc:
            raise WitnessRefusal(400, str(exc), field=exc.field or "checkpoint") from exc
        known = self.state.get(cp.origin)
        if known is None:
            raise WitnessRefusal(404, f"this witness does not witness the log {cp.origin!r}",
                                 field="origin")
        try:
            note.verify(known.verifiers())
        except VerificationError as exc:
            raise WitnessRefusal(403, f"checkpoint signature: {exc}", field="checkpoint") \
                from exc
        if req.old > cp.size:
            raise WitnessRefusal(400, f"old size {req.old} is larger than the checkpoint's "
                                 f"size {cp.size}", field="old")
        if req.old != known.size:
            raise WitnessRefusal(409, f"old size {req.old} is not the latest cosigned size "
                                 f"{known.size}", size=known.size)
        if req.old == cp.size:
            if req.proof:
                raise WitnessRefusal(422, "a proof between equal sizes must be empty",
                                     field="proof")
            if cp.root != known.root:
                raise WitnessRefusal(
                    409, f"split view: the witness cosigned size {known.size} with another "
                    "root hash; refusing this checkpoint", field="root")
        else:
            if req.old == 0 and req.proof:
                raise WitnessRefusal(400, "the consistency proof must be empty when old is 0",
                                     field="proof")
            try:
                merkle.verify_consistency(req.old, cp.size, known.root, cp.root, req.proof)
            except VerificationError as exc:
                raise WitnessRefusal(422, f"consistency proof from size {req.old}: {exc}",
                                     field="proof") from exc
            if not self.state.advance(cp.origin, (known.size, known.root),
                                      (cp.size, cp.root), now):
                current = self.state.get(cp.origin)
                size = current.size if current is not None else 0
                raise WitnessRefusal(409, f"the witness moved on to size {size} meanwhile",
                                     size=size)
        return self.signer.cosign(note.text, now).line()


def open_witness(config: WitnessConfig, now: datetime) -> Witness:
    """The witness of ``config``: key loaded, database opened, configured logs added.

    Raises:
        NotAllowed, CouldNotCheck: the key cannot be used.  BadData: a bad log entry.
    """
    signer = CosignatureV1Signer(config.name, load_key(config.key_path))
    state = WitnessDatabase(make_engine(config.database_url))
    for lc in config.logs:
        state.add_log(lc.origin, lc.vkeys, now)
    return Witness(signer, state)


def create_witness_app(config: WitnessConfig, *,
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Flask:
    """The witness's WSGI application: ``POST /add-checkpoint`` (and ``GET /``)."""
    witness = open_witness(config, clock())
    app = Flask(__name__)
    app.extensions["absentia.witness"] = witness
    problems.init_app(app)
    slugs = {400: "bad-request", 403: "forbidden", 404: "not-found", 409: "conflict",
             422: "unprocessable"}

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        if (request.content_length or 0) > MAX_BODY:
            return problems.problem("too-large", f"the request body exceeds {MAX_BODY} bytes")
        try:
            lines = witness.add_checkpoint(request.get_data(cache=False), clock())
        except WitnessRefusal as exc:
            if exc.size is not None:
                # tlog-witness: the body is the witness's size and a newline.
                return Response(f"{exc.size}\n", status=409, mimetype=SIZE_MEDIA_TYPE)
            return problems.problem(slugs.get(exc.status, "bad-request"), str(exc),
                                    status=exc.status, field=exc.field)
        return Response(lines, status=200, content_type="text/plain; charset=utf-8")

    @app.get("/")
    def info() -> Response:
        text = f"{witness.signer.verifier.vkey}\n" + "".join(
            f"{w.origin} {w.size}\n" for w in witness.state.all())
        return Response(text, content_type="text/plain; charset=utf-8")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    return app


def serve_witness(config: WitnessConfig, host: str, port: int, *, workers: int = 1,
                  threads: int = 8) -> None:
    """Serve the witness with gunicorn until interrupted."""
    # Deferred: ledger.app.server imports gunicorn and the log's whole web app, which
    # the witness's other commands (init, add-log, its config checks) do not need.
    from ledger.app.server import GunicornApp

    GunicornApp(lambda: create_witness_app(config), f"{host}:{port}", workers, threads).run()
