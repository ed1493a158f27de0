"""The ``absentia`` command line, run as a real program on a throwaway data directory.

``demo`` runs a whole recruitment campaign on a simulated clock (2,000 candidates by
default), then signs, exports and verifies the log; ``keys`` lists and rotates its
signing keys; ``export`` and ``verify`` then check it offline with exit codes 0
(verified), 1 (failed) and 2 (could not check).  The campaign's figures are recomputed
here from the ledger entries themselves, and every entry is scanned for personal data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.app.demo import DEFAULT_SEED, DEMO_NOTICE, POSTS, demo_people
from ledger.app.demo_backfill import RESERVES_PER_POST, demo_reserves
from ledger.entry import Entry
from ledger.events import PII_PATTERNS
from ledger.note import Ed25519Signer, Ed25519Verifier
from ledger.tiles import bundles_for_size, decode_bundle

ABSENTIA = Path(sys.executable).parent / "absentia"
LOG = "hr-bureau-2026"
ORIGIN = "absentia.example.gov.cn/hr-bureau/2026"
CANDIDATES = 2000  # the demo's default: the fixture runs it without --candidates
#: The simulated campaign; the console walk adds a second, small one (``<it>-b``).
CAMPAIGN = "hrb-2026-autumn"
SECOND = f"{CAMPAIGN}-b"
SMALL = 300
TIMEOUT_S = 180


def cli_env() -> dict[str, str]:
    """The environment for the CLI, without settings that would redirect it elsewhere."""
    env = dict(os.environ)
    env.pop("ABSENTIA_DATABASE_URL", None)
    env.pop("ABSENTIA_CONFIG", None)
    return env


def absentia(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=cli_env(), check=False)


@dataclass(frozen=True)
class Demo:
    data: Path
    stdout: str
    size: int
    candidates: int

    @property
    def export(self) -> Path:
        return self.data / "export" / LOG

    @cached_property
    def entries(self) -> list[tuple[int, bytes]]:
        """(index, canonical bytes) of every entry of the log, from the database."""
        with closing(sqlite3.connect(self.data / "absentia.db")) as db:
            rows = db.execute("SELECT e.idx, e.data FROM ledger_entries e JOIN ledger_logs l "
                              "ON l.id = e.log_id WHERE l.name = ? ORDER BY e.idx",
                              (LOG,)).fetchall()
        return [(int(i), bytes(d)) for i, d in rows]

    def bodies(self, kind: str, campaign: str = CAMPAIGN) -> list[dict[str, Any]]:
        """The bodies of the entries of type ``kind``, in log order; of those that name
        a campaign, only ``campaign``'s (the simulated one, not the walk's second)."""
        return [e["body"] for e in map(json.loads, (d for _, d in self.entries))
                if e["type"] == kind and e["body"].get("campaign", campaign) == campaign]


def run_demo(data: Path, candidates: int | None = None) -> Demo:
    extra = () if candidates is None else ("--candidates", str(candidates))
    res = absentia("demo", "--data", data, "--no-serve", *extra)
    assert res.returncode == 0, (res.stdout, res.stderr)
    m = re.search(rf"^log {LOG} \({re.escape(ORIGIN)}\): ([\d,]+) entries, checkpoint signed$",
                  res.stdout, re.MULTILINE)
    assert m is not None, res.stdout
    return Demo(data, res.stdout, int(m.group(1).replace(",", "")), candidates or CANDIDATES)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One demo data directory (the default 2,000 candidates) for the tests that read it."""
    return run_demo(tmp_path_factory.mktemp("cli") / "data")


def listed_keys(stdout: str) -> list[tuple[str, bool]]:
    """(verifier key, current?) lines of ``absentia keys`` for LOG."""
    lines = stdout.splitlines()
    start = lines.index(f"{LOG}\t{ORIGIN}")
    out: list[tuple[str, bool]] = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        key, _, mark = line.strip().partition("  ")
        out.append((key, mark == "(current)"))
    return out


def stranger_key() -> str:
    """A well-formed verifier key with the log's name that never signed anything."""
    return Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier.vkey


# -- demo, keys, verify ----------------------------------------------------------------------


def test_demo_builds_exports_and_verifies(demo: Demo) -> None:
    out = demo.data.resolve() / "export" / LOG
    assert f"simulating a campaign of {CANDIDATES:,} candidates" in demo.stdout
    assert f"exported to {out}\n" in demo.stdout
    assert re.search(rf"verified offline: {demo.size:,} entries, \d+ tiles", demo.stdout)
    assert f"absentia verify {out} --keys {out / 'keys'}" in demo.stdout
    assert f"rebuild check: the live tables equal a replay of {demo.size:,} entries" \
        in demo.stdout
    assert len(demo.entries) == demo.size
    assert [i for i, _ in demo.entries] == list(range(demo.size))
    assert 256 * 2 < demo.size < 256 * 256
    for rel in ("checkpoint", "keys", "tile/0/000", "tile/entries/000",
                f"tile/1/000.p/{demo.size // 256}"):
        assert (out / rel).is_file(), rel
    assert (out / "checkpoint").read_text(encoding="utf-8").split("\n")[:2] == [
        ORIGIN, str(demo.size)]
    # The exported entries are the database's, byte for byte.
    exported = [raw for b in bundles_for_size(demo.size)
                for raw in decode_bundle((out / b.path()).read_bytes())[:b.width]]
    assert exported == [d for _, d in demo.entries]
    # An independent replay agrees too, and the demo printed one token per role.
    res = absentia("rebuild", "--data", demo.data, "--check")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert f"live tables equal a replay of {demo.size:,} entries" in res.stdout
    for role in ("platform", "hr", "reviewer", "auditor"):
        assert re.search(rf"^  {role} +abs_tok_[a-z2-7]{{16}}_\S+$", demo.stdout, re.MULTILINE)
    assert re.search(r"curl -H 'Authorization: Bearer abs_tok_\S+' http://\S+/api/v1/"
                     r"campaigns/hrb-2026-autumn/statistics", demo.stdout)


def interview_windows(demo: Demo) -> list[dict[str, Any]]:
    """The AI interview day's windows (not the make-ups, not the 递补 interviews after the
    notice)."""
    return [b for b in demo.bodies("window.scheduled")
            if b["kind"] == "regular" and b["slot"] != "backfill"]


def sweep_decisions(demo: Demo) -> dict[str, dict[str, Any]]:
    """The first ruling on each regular window (what the absence rate counts), by window."""
    regular = {b["window"] for b in interview_windows(demo)}
    return {b["window"]: b for b in demo.bodies("decision.made")
            if b["window"] in regular and "supersedes" not in b}


def test_demo_campaign_has_the_articles_figures(demo: Demo) -> None:
    """Recomputed from the ledger: 12 % absent, 57 / 28 / 15 by cause, every window decided."""
    regular = interview_windows(demo)
    assert len(regular) == demo.candidates
    # The candidates, and the reserves imported for 递补 after the notice.
    assert len(demo.bodies("subject.registered")) == (
        demo.candidates + len(POSTS) * RESERVES_PER_POST)
    decided = sweep_decisions(demo)
    assert len(decided) == demo.candidates
    assert {b["basis"] for b in decided.values()} == {"sweep"}
    absent = [b for b in decided.values() if b["outcome"] != "attended"]
    rate = len(absent) / len(decided)
    assert abs(rate - 0.12) <= 0.01, rate
    causes = Counter(b["cause"] for b in absent)
    share = {
        "voluntary": (causes["withdrawn"] + causes["no_show"]) / len(absent),
        "technical": (causes["technical"] + causes["compatibility"]) / len(absent),
        "notification": causes["notification_failed"] / len(absent),
    }
    assert abs(share["voluntary"] - 0.57) <= 0.04, share
    assert abs(share["technical"] - 0.28) <= 0.04, share
    assert abs(share["notification"] - 0.15) <= 0.03, share
    assert set(causes) == {"withdrawn", "no_show", "technical", "compatibility",
                           "notification_failed"}
    # Government policy: voluntary absences forfeit, the rest go to review.
    for b in absent:
        voluntary = b["cause"] in ("withdrawn", "no_show")
        assert b["outcome"] == ("forfeited" if voluntary else "makeup_pending_review"), b
    # The printed summary says what the ledger says.
    assert (f"{len(decided):,} windows decided, {len(absent):,} absent ({100 * rate:.1f} %)"
            in demo.stdout)
    # Accommodations were granted before the windows closed, and mattered: the
    # extended windows hold reports after their original close, all attended.
    extended = {b["window"]: b for b in demo.bodies("accommodation.granted")}
    assert len(extended) >= demo.candidates // 200
    assert {b["kind"] for b in extended.values()} == {"extended"}
    assert all(decided[w]["outcome"] == "attended" for w in extended)
    scheduled = {b["window"]: b for b in regular}
    late = {b["window"] for b in demo.bodies("platform.event")
            if b["window"] in extended and b["at"] > scheduled[b["window"]]["closes_at"]}
    assert late == set(extended)
    assert demo.bodies("platform.quarantined")


def test_demo_outage_alert_reviews_makeups_and_appeals(demo: Demo) -> None:
    decided = sweep_decisions(demo)
    raised = demo.bodies("alert.raised")
    outages = [b for b in raised if b["kind"] == "platform_outage"]
    assert len(outages) == 1, raised
    outage = outages[0]
    windows = set(outage["windows"].split(","))
    assert len(windows) == outage["count"] >= outage["threshold"] >= 10
    assert all(decided[w]["cause"] == "technical" for w in windows)
    assert outage["count"] * 100 >= 30 * outage["total"]  # the config's thresholds
    # Only one slot is unusual: the other slots' technical absences stay few.
    scheduled = {b["window"]: b for b in demo.bodies("window.scheduled")}
    per_slot = Counter(scheduled[w]["slot"] for w, b in decided.items()
                       if b.get("cause") == "technical")
    worst = sorted(per_slot.values())
    assert worst[-1] == outage["count"], per_slot
    assert worst[-2] < 10, per_slot
    resolved = {b["alert"]: b for b in demo.bodies("alert.resolved")}
    assert resolved[outage["alert"]]["action"] == "mass_makeup"
    assert resolved[outage["alert"]]["makeups"] == outage["count"]
    assert set(resolved) == {b["alert"] for b in raised}  # nothing left open
    # Reviews: the mass make-up, other make-ups granted, other cases confirmed.
    reviews = Counter((b["ruling"], "alert" in b) for b in demo.bodies("decision.reviewed"))
    assert reviews[("makeup_granted", True)] == outage["count"]
    assert reviews[("makeup_granted", False)] >= 1
    assert reviews[("confirmed", False)] >= 1
    makeups = [b for b in demo.bodies("window.scheduled") if b["kind"] == "makeup"]
    assert len(makeups) > outage["count"]
    made = {b["window"]: b for b in demo.bodies("decision.made")}
    assert all(m["window"] in made for m in makeups)  # every make-up was held and decided
    # Appeals: filed by candidates, mostly upheld, at least one overturned.
    filed = demo.bodies("appeal.filed")
    ruled = Counter(b["ruling"] for b in demo.bodies("appeal.ruled"))
    assert len(filed) == sum(ruled.values()) >= 3
    assert ruled["upheld"] > ruled["overturned"] >= 1
    superseding = [b for b in demo.bodies("decision.made") if "supersedes" in b]
    assert len(superseding) == ruled["overturned"]
    assert {b["outcome"] for b in superseding} == {"makeup_granted"}
    # Reviewers' reads of personal data are on the record.
    assert demo.bodies("pii.viewed")
def test_demo_fills_vacancies_and_answers_objections(demo: Demo) -> None:
    """After the notice: rankings, 递补 after written withdrawals (one proposal declined,
    one vacancy past the cut-off refused), a 递补 notice, two objections (one upheld,
    one cancelled, whose vacancy is filled in turn), one overdue alert; as printed."""
    rankings = demo.bodies("ranking.imported")
    assert sorted(b["post"] for b in rankings) == [p for p, _ in POSTS]
    assert sum(b["ranked"] for b in rankings) == (
        demo.candidates + len(POSTS) * RESERVES_PER_POST)
    proposed = demo.bodies("backfill.proposed")
    approved = demo.bodies("backfill.approved")
    declined = demo.bodies("backfill.declined")
    unfilled = Counter(b["reason"] for b in demo.bodies("backfill.unfilled"))
    assert (len(proposed), len(approved), len(declined)) == (4, 3, 1)
    assert all(d["reason"] for d in declined)
    assert unfilled["cutoff_passed"] == 1
    assert unfilled["day_of_no_show_excluded"] >= 100  # 视为自动放弃，不再递补
    # The promoted are reserves (registered after the notice), each interviewed.
    reserves = {b["subject"] for b in demo.bodies("subject.registered")
                if b["registration"].startswith("HR26R-")}
    assert {b["subject"] for b in proposed} <= reserves
    made = {b["window"]: b for b in demo.bodies("decision.made")}
    assert [made[a["window"]]["outcome"] for a in approved] == ["attended"] * 3
    [listed] = demo.bodies("backfill.list_published")
    assert listed["lines"] == 3
    # The objections: two filed (public form, letter), both acknowledged, one upheld, one
    # cancelled after the candidate stated their case; its vacancy names it and is filled.
    filed = demo.bodies("objection.filed")
    assert sorted(b["channel"] for b in filed) == ["letter", "web"]
    assert len(demo.bodies("objection.acknowledged")) == 2
    assert len(demo.bodies("objection.statement_received")) == 1
    ruled = {b["objection"]: b["ruling"] for b in demo.bodies("objection.ruled")}
    assert sorted(ruled.values()) == ["cancelled", "upheld"]
    cancelled = next(o for o, r in ruled.items() if r == "cancelled")
    [vacancy] = [b for b in demo.bodies("vacancy.recorded") if "objection" in b]
    assert (vacancy["objection"], vacancy["kind"]) == (cancelled, "disqualified")
    assert vacancy["subject"] == next(b["subject"] for b in filed
                                      if b["objection"] == cancelled)
    assert [b for b in proposed if b["vacancy"] == vacancy["vacancy"]]
    overdue = [b for b in demo.bodies("alert.raised") if b["kind"] == "objection_overdue"]
    assert [(b["objection"], b["stage"]) for b in overdue] == [
        (next(o for o, r in ruled.items() if r == "upheld"), "acknowledge")]
    # What the demo printed, with the console paths.
    notice = demo.bodies("notice.published")[0]["notice"]
    for line in (
        rf"  书面放弃 /console/campaigns/{CAMPAIGN}/backfill: 3 名考生书面放弃：2 个空缺已提出"
        r"递补人选，1 个因已过递补截止日不再递补",
        rf"  异议裁决（取消） /console/campaigns/{CAMPAIGN}/objections: 1 件取消考生 "
        r"HR26-\d{5} 的结果（已陈述、申辩），空缺递补 1 人（HR26R-\d{4}）",
        rf"  异议 /notices/{notice}/objections: 收到 2 件：维持 1 件，取消 1 件，待答复 0 件",
        rf"  递补名单公示 /notices/{listed['notice']}: 3 名递补考生（姓名已遮盖）",
    ):
        assert re.search(line, demo.stdout), line


def test_keys_lists_the_log_and_its_key(demo: Demo) -> None:
    res = absentia("keys", "--data", demo.data)
    assert res.returncode == 0, res.stderr
    keys = listed_keys(res.stdout)
    assert len(keys) == 1
    key, current = keys[0]
    assert current
    v = Ed25519Verifier.from_vkey(key)
    assert v.name == ORIGIN
    assert (demo.export / "keys").read_text(encoding="utf-8") == key + "\n"


def test_verify_exit_codes(demo: Demo, tmp_path: Path) -> None:
    keys = demo.export / "keys"
    res = absentia("verify", demo.export, "--keys", keys, "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}: {demo.size:,} entries")

    res = absentia("verify", tmp_path / "no-such-dir", "--keys", keys, "--quiet")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "could not verify" in res.stderr

    res = absentia("verify", demo.export, "--key", stranger_key(), "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "FAILED" in res.stderr
    assert "no signature by a trusted key" in res.stderr

    res = absentia("verify", demo.export, "--key", "not-a-key", "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "malformed" in res.stderr


def test_rotate_export_verify_and_key_file_modes(tmp_path: Path) -> None:
    demo = run_demo(tmp_path / "data", SMALL)
    before = listed_keys(absentia("keys", "--data", demo.data).stdout)
    assert len(before) == 1

    res = absentia("keys", "--data", demo.data, "--rotate", LOG)
    assert res.returncode == 0, res.stderr
    assert f"rotated the signing key of {LOG}" in res.stdout
    after = listed_keys(res.stdout)
    assert [k for k, _ in after][:1] == [before[0][0]]
    assert [c for _, c in after] == [False, True]
    old_key, new_key = after[0][0], after[1][0]
    assert old_key != new_key
    assert absentia("keys", "--data", demo.data).stdout == res.stdout.split("\n", 1)[1]

    out = tmp_path / "export2"
    res = absentia("export", "--data", demo.data, "--log", LOG, "--out", out)
    assert res.returncode == 0, res.stderr
    size = demo.size + 1  # the log.key_added entry
    assert f"exported {LOG}: {size:,} entries" in res.stdout
    assert (out / "keys").read_text(encoding="utf-8").splitlines() == [old_key, new_key]

    res = absentia("verify", out, "--keys", out / "keys", "--old", demo.export / "checkpoint",
                   "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}: {size:,} entries")
    assert f"extends the checkpoint of size {demo.size}" in res.stdout
    # The rotation is itself recorded in the log, naming the new key.
    *_, last_bundle = bundles_for_size(size)
    last = Entry.decode(decode_bundle((out / last_bundle.path()).read_bytes())[-1])
    assert (last.index, last.type) == (size - 1, "log.key_added")
    assert last.body["verifier_key"] == new_key
    res = absentia("verify", out, "--key", new_key, "--quiet")
    assert res.returncode == 0, res.stderr
    res = absentia("verify", out, "--key", old_key, "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)

    key_dir = demo.data / "keys" / LOG
    files = sorted(key_dir.iterdir())
    assert len(files) == 2
    ids = {f"{Ed25519Verifier.from_vkey(k).key_id:08x}.pem" for k in (old_key, new_key)}
    assert {f.name for f in files} == ids
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700


# -- no personal data in the ledger -----------------------------------------------------------


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def personal_data(text: str) -> list[str]:
    return [what for what, pattern in PII_PATTERNS if pattern.search(text)]


def test_patterns_catch_personal_data() -> None:
    """The scan below can fail: each pattern catches its kind of personal data."""
    samples = ["110101199003074514", "13812345678", "zhang.san@example.cn", "张三"]
    assert [personal_data(s) for s in samples] == [
        ["an ID number"], ["a mobile number"], ["an e-mail address"],
        ["Han characters (a name?)"]]


TITLED = {"campaign.created", "campaign.post_added"}  # public titles may be Chinese
#: Reviewers' and HR's reasons are public text too (Chinese, no personal data).
REASONED = {"decision.reviewed", "appeal.ruled", "notice.published", "backfill.declined",
            "objection.ruled"}
#: A policy's notice settings name the issuing office, its address and its mailbox for
#: objections (public, Chinese, an e-mail address by design): the demo's made-up ones.
OFFICE = ("notice_issuing_office", "notice_objection_address", "notice_objection_email")
DEMO_OFFICE = {"notice_issuing_office": DEMO_NOTICE.issuing_office,
               "notice_objection_address": DEMO_NOTICE.objection_address,
               "notice_objection_email": DEMO_NOTICE.objection_email}
NON_HAN = [(what, p) for what, p in PII_PATTERNS if not what.startswith("Han")]
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def without_digests(value: Any) -> Any:
    """``value`` with each SHA-256 hex digest replaced: a digest (of a commitment, a
    token, an explanation) is not personal data, though one in 300 holds a run of
    digits shaped like a mobile or ID number."""
    if isinstance(value, str):
        return "<sha256>" if SHA256_HEX.fullmatch(value) else value
    if isinstance(value, dict):
        return {k: without_digests(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_digests(v) for v in value]
    return value


def test_demo_ledger_holds_no_personal_data(demo: Demo) -> None:
    """Every entry: nothing that looks like personal data; Han text only in titles."""
    found: dict[int, list[str]] = {}
    titles = []
    for idx, raw in demo.entries:
        Entry.decode(raw)
        entry = without_digests(json.loads(raw))
        if entry["type"] in TITLED:
            titles.append(entry["body"].pop("title"))
        if entry["type"] in REASONED and "reason" in entry["body"]:
            titles.append(entry["body"].pop("reason"))
        if entry["type"] == "policy.adopted":  # the office a notice names, by design
            office = {k: entry["body"].pop(k) for k in OFFICE if k in entry["body"]}
            assert office in ({}, DEMO_OFFICE), office
        texts = [json.dumps(entry, ensure_ascii=False), *strings_in(entry)]
        hits = sorted({what for t in texts for what in personal_data(t)})
        if hits:
            found[idx] = hits
    assert found == {}
    # Two campaigns' titles and posts, every case reviewed one by one (the outage's mass
    # make-up is the alert's, without a reason), every ruling, the notice correction.
    reasons = (len([b for b in demo.bodies("decision.reviewed") if "alert" not in b])
               + len(demo.bodies("appeal.ruled")) + 1 + len(demo.bodies("backfill.declined"))
               + len(demo.bodies("objection.ruled")))
    assert len(titles) == 10 + reasons
    assert [t for t in titles if any(p.search(t) for _, p in NON_HAN)] == []


def test_demo_ledger_holds_none_of_the_candidates_details(demo: Demo) -> None:
    """None of the demo's names, ID numbers, phones or e-mails is in any entry.

    The candidates are regenerated from the seed; the outbox file (what was "sent")
    shows they are the ones the demo imported.
    """
    people = demo_people(demo.candidates, DEFAULT_SEED)
    second = demo_people(12, DEFAULT_SEED + 1)  # imported by the console walk
    reserves = demo_reserves(DEFAULT_SEED)  # imported for 递补 after the notice
    sent = [json.loads(line) for line in
            (demo.data / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    addresses = {p.email or p.phone for p in people if not p.unreachable}
    names = {p.name for p in people + reserves}
    # Every reachable candidate got mail; of the reserves, the three promoted.
    to = {m["to"] for m in sent}
    assert to - addresses <= {p.email or p.phone for p in reserves}
    assert len(to - addresses) == 3
    assert addresses <= to
    assert {m["text"].split("，", 1)[0] for m in sent} <= names
    assert any(len(p.name) >= 3 and p.name[:2] in ("欧阳", "司马", "诸葛", "上官")
               for p in people)
    assert any("𠮷" in p.name or "䶮" in p.name for p in people)
    ids = {p.id_number for p in people + second + reserves}
    phones = {p.phone for p in people + second + reserves if p.phone}
    emails = {p.email for p in people + second + reserves if p.email}
    names |= {p.name for p in second}
    leaked: list[tuple[int, str]] = []
    for idx, raw in demo.entries:
        text = raw.decode("utf-8")
        for run in re.findall(r"[0-9X]{11,}", text):
            for n, pool in ((18, ids), (11, phones)):
                leaked += [(idx, run[i:i + n]) for i in range(len(run) - n + 1)
                           if run[i:i + n] in pool]
        leaked += [(idx, e) for e in re.findall(r"[^\s\"@]+@[^\s\"@]+", text) if e in emails]
        if re.search(r"[\u3400-\u9fff\U00020000-\U0003134f]", text):
            entry = json.loads(raw)
            assert entry["type"] in TITLED | REASONED or entry["type"] == "policy.adopted", idx
            leaked += [(idx, n) for n in names if n in text]
    assert leaked == []


def test_config_conflicting_with_the_database_is_a_clear_error(demo: Demo, tmp_path: Path) -> None:
    config = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(config.replace('origin = "absentia.example.gov.cn/hr-bureau/2026"',
                                  'origin = "elsewhere.example/log"'), encoding="utf-8")
    res = absentia("keys", "--data", demo.data, "--config", bad)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "exists with origin" in res.stderr
    assert "Traceback" not in res.stderr


def test_demo_publishes_a_notice_with_masked_names_only(demo: Demo) -> None:
    """The notice the demo wrote is the one the ledger recorded, and shows no one's name."""
    from publicity.masking import mask_name

    published = demo.bodies("notice.published")
    assert len(published) == 2  # the notice, then the console walk's correction
    body = published[0]
    assert published[1]["supersedes"] == body["notice"]
    assert "申诉经复核成立" in published[1]["reason"]
    path = demo.data / "notices" / f"{body['notice']}.html"
    assert f"public notice {body['notice']}" in demo.stdout
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == body["sha256"]
    html = data.decode("utf-8")
    people = demo_people(demo.candidates, DEFAULT_SEED)
    assert body["lines"] == len(people)
    for p in people:
        assert p.registration in html
        assert p.name not in html
        assert p.id_number not in html
        assert not p.phone or p.phone not in html
        assert not p.email or p.email not in html
    # The masked forms are there (surname kept), one per candidate at least once.
    assert all(mask_name(p.name) in html for p in people)


def test_demo_writes_a_signed_report_that_verifies(demo: Demo) -> None:
    """The demo's archive report is on disk, recorded in the ledger, and verifies."""
    recorded = demo.bodies("report.generated")
    assert len(recorded) == 2  # the demo's, then the console walk's report job
    assert (demo.data / "reports" / f"{recorded[1]['report']}.pdf").is_file()
    body = recorded[0]
    path = demo.data / "reports" / f"{body['report']}.pdf"
    assert str(path) in demo.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == body["sha256"]
    checked = absentia("report", "verify", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_demo_prints_console_accounts_that_sign_in(demo: Demo, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo prints the console's sign-in URL and an account per role; the printed
    auditor login and password sign in (no TOTP for auditors) on a copy of its data."""
    import shutil

    from ledger.app.web import create_app
    from ledger.config import DEFAULT_CONFIG, load_settings

    m = re.search(r"^console: sign in at http://[\w.:-]+/console/sign-in$", demo.stdout,
                  re.MULTILINE)
    assert m is not None, demo.stdout
    printed = {role: (login, password) for role, login, password in re.findall(
        r"^  (admin|hr|reviewer|auditor) +login (\S+) +password (\S+)$", demo.stdout,
        re.MULTILINE)}
    assert set(printed) == {"admin", "hr", "reviewer", "auditor"}
    assert "TOTP authenticator app at their first sign-in" in demo.stdout
    monkeypatch.delenv("ABSENTIA_DATABASE_URL", raising=False)
    monkeypatch.delenv("ABSENTIA_CONFIG", raising=False)
    data = tmp_path / "data"  # a copy: signing in appends to the ledger
    shutil.copytree(demo.data, data)
    app = create_app(load_settings(data, DEFAULT_CONFIG))
    try:
        client = app.test_client()
        form = client.get("/console/sign-in").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        login, password = printed["auditor"]
        resp = client.post("/console/sign-in", data={
            "csrf_token": csrf.group(1), "login": login, "password": password})
        assert resp.status_code == 303
        assert resp.headers["Location"] == "/console/"
        assert 'data-role="auditor"' in client.get("/console/").get_data(as_text=True)
        assert client.get("/console/audit/").status_code == 200
    finally:
        app.extensions["absentia.store"].engine.dispose()


#: Each screen the console walk must report: what it is called, its path (a regex), and
#: what its line must say.
WALKED = (
    ("恢复码（绑定验证器后仅显示一次）", r"/console/sign-in/enrol", r"10 个"),
    ("恢复码", r"/console/recovery-codes", r"剩余可用恢复码：10 个。"),
    ("申诉列表", rf"/console/campaigns/{CAMPAIGN}/appeals",
     r"1 件待裁决（HR26-\d{5}），\d+ 件已裁决（附理由）"),
    ("申诉裁决", r"/console/appeals/a_\w+", r"撤销原认定，理由已记入账本"),
    # The overturned appeal's line changes; the three 递补 candidates' lines are added.
    ("公示更正（与已发布公示的差异）", rf"/console/campaigns/{CAMPAIGN}/notice", r"4 行变更"),
    ("公示", rf"/console/campaigns/{CAMPAIGN}/notice", r"2 份已发布（原公示已被更正取代）"),
    ("决定列表", rf"/console/campaigns/{CAMPAIGN}/decisions\?outcome=forfeited",
     r"共 [\d,]+ 条，第 1/\d+ 页"),
    ("决定列表（按报名号查找）", rf"/console/campaigns/{CAMPAIGN}/decisions\?q=HR26-\d{{5}}",
     r"共 [1-9] 条，第 1/1 页"),
    ("考生列表", rf"/console/campaigns/{CAMPAIGN}/candidates\?post=p03", r"共 [\d,]+ 条"),
    ("面试时段列表", rf"/console/campaigns/{CAMPAIGN}/windows\?q=HR26-\d{{5}}", r"共 [1-9] 条"),
    ("导出 CSV", rf"/console/campaigns/{CAMPAIGN}/decisions\?outcome=forfeited&format=csv",
     r"[\d,]+ 行"),
    ("导出 Excel", rf"/console/campaigns/{CAMPAIGN}/decisions\?outcome=forfeited&format=xlsx",
     r"[\d,]+ 行"),
    ("决定详情（复查与理由）", r"/console/decisions/d_\w+", r"申诉成立"),
    ("决定的操作记录", r"/console/decisions/d_\w+/activity", r"共 \d+ 条记录"),
    ("活动记录", rf"/console/campaigns/{CAMPAIGN}/activity", r"共 [\d,]+ 条记录"),
    ("归档报表", rf"/console/campaigns/{CAMPAIGN}/reports", r"1 份已签名"),
    ("新建招聘", r"/console/campaigns/new", rf"{SECOND}：4 个岗位"),
    ("导入考生（表头同义词）", rf"/console/campaigns/{SECOND}/import",
     r"12 名，表头 准考证号、考生姓名、证件号码"),
    ("安排时段", rf"/console/campaigns/{SECOND}/schedule",
     r"尚未安排时段的考生：0 名；2 个时段已安排"),
    ("复查卡片（平台记录、通知与规则）", rf"/console/campaigns/{SECOND}/reviews",
     r"3 件待复查，3 件附平台记录"),
    ("报表任务", rf"/console/campaigns/{CAMPAIGN}/reports", r"已完成（j_\w+）"),
)


def test_demo_walks_its_console_and_leaves_each_screen_something(demo: Demo) -> None:
    """The demo signs in to its own console (the real form, TOTP for the reviewer), tells
    each screen with its path and count, and what it did there is in the ledger."""
    walk = demo.stdout[demo.stdout.index("\nconsole walk (in-process"):]
    walk = walk[:walk.index("\nlog ")]
    lines = [line for line in walk.splitlines() if line.startswith("  ")]
    assert len(lines) == len(WALKED), walk
    for line, (label, path, said) in zip(lines, WALKED, strict=True):
        assert re.fullmatch(rf"  {re.escape(label)} {path}: .*{said}.*", line), line
    # The exports hold exactly the filtered list's rows.
    total = re.search(r"decisions\?outcome=forfeited: 共 ([\d,]+) 条", walk)
    assert total is not None
    assert f"format=csv: {total.group(1)} 行" in walk
    assert f"format=xlsx: {total.group(1)} 行" in walk
    forfeited = {b["decision"] for b in demo.bodies("decision.made")
                 if b["outcome"] == "forfeited"}  # the list keeps superseded ones, marked
    assert int(total.group(1).replace(",", "")) == len(forfeited)
    # Every review and every ruling of the simulated campaign says why.
    assert all(b.get("reason") for b in demo.bodies("decision.reviewed")
               if "alert" not in b)
    ruled = demo.bodies("appeal.ruled")
    assert ruled
    assert all(b.get("reason") for b in ruled)
    assert "公示期内复核申诉" in ruled[-1]["reason"]
    assert ruled[-1]["ruling"] == "overturned"
    # The second campaign: set up, imported and scheduled on the console by the walk's
    # HR account; its interview day decided by the sweep, three cases pending review.
    hr_user = {b["user"] for b in demo.bodies("user.created") if b["role"] == "hr"}
    created = demo.bodies("campaign.created", SECOND)
    assert len(created) == 1
    assert len(demo.bodies("subject.registered", SECOND)) == 12
    windows = demo.bodies("window.scheduled", SECOND)
    assert len(windows) == 12
    assert len({w["slot"] for w in windows}) == 2
    pending = [b for b in demo.bodies("decision.made", SECOND)
               if b["outcome"] == "makeup_pending_review"]
    assert len(pending) == 3
    actors = {e["actor"] for e in map(json.loads, (d for _, d in demo.entries))
              if e["type"] == "campaign.created" and e["body"]["campaign"] == SECOND}
    assert len(actors) == 1
    assert actors.pop().split(":", 1)[1] in hr_user
