/*
 * Absentia: verify a public notice in the reader's browser.
 *
 * For every line (tr[data-index]) of table#lines the script fetches, from this site,
 * the line's C2SP tlog-proof and the exact bytes of the ledger entry, then checks:
 *   1. the entry is the decision the line cites (JSON "index" equals the row's index,
 *      "type" is "decision.made");
 *   2. the checkpoint in the proof is signed (C2SP signed-note, Ed25519) by a key listed
 *      in ul#keys (signatures by unknown keys are ignored), names the same origin as the
 *      notice's own checkpoint (pre#checkpoint) and is at least as large;
 *   3. the RFC 9162 §2.1.3.2 inclusion proof leads from SHA-256(0x00 || entry) to the
 *      checkpoint's root hash;
 *   4. the proof's checkpoint is consistent (RFC 9162 §2.1.4.2) with the notice's
 *      checkpoint: the log only grew since the notice was published.
 * The notice's own checkpoint signature is checked once, first.
 *
 * Witnesses: if the page lists witnesses (ul#witnesses, each li's code.vkey a C2SP vkey
 * of type 0x04), every signature line of the notice's checkpoint by a listed witness key
 * is verified as a C2SP tlog-cosignature v1 (Ed25519): key ID = SHA-256(name || "\n" ||
 * 0x04 || public key)[:4]; signature = u64 big-endian timestamp || Ed25519 signature
 * over "cosignature/v1\ntime <timestamp>\n" || the checkpoint body (its text before
 * the blank line, final newline included).  Each row of table#cosignatures (one per
 * cosignature the server rendered, with data-witness, data-key-id and data-timestamp)
 * is marked verified only if such a cosignature verifies with that listed key and was
 * made at the time shown.  The summary then says "cosigned by N of M witnesses", and
 * fails when N is below the page's policy (data-required) or a cosignature by a listed
 * witness does not verify.
 *
 * Its words follow the page: Chinese or English on a notice published one language a
 * page, both on an older bilingual notice.
 *
 * No external resources, no inline script (CSP default-src 'self').  Uses WebCrypto
 * (SHA-256 and Ed25519), so it needs a current browser and a secure context or
 * localhost.
 */
(function () {
  "use strict";

  // The page's language: a notice published in one language a page links its other
  // language (link[rel=alternate]) and is told in that one; an older bilingual notice
  // is told in both.
  var LANG = document.querySelector("link[rel=alternate][hreflang]")
    ? (document.documentElement.lang === "en" ? "en" : "zh") : "both";

  /** The words of this page's language (both, Chinese first, on a bilingual page). */
  function say(zh, en) {
    return LANG === "en" ? en : LANG === "zh" ? zh : zh + " " + en;
  }

  var OK_TEXT = "\u2713 " + say("已验证", "verified");
  var CONCURRENCY = 8; // fetches in flight at most

  // -- bytes --------------------------------------------------------------------------

  var encoder = new TextEncoder();

  function b64decode(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Error("base64 \u683c\u5f0f\u9519\u8bef malformed base64");
    }
    var bin = atob(text);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function concat(parts) {
    var n = 0;
    parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n);
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    var diff = 0;
    for (var i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) {
      return new Uint8Array(d);
    });
  }

  var ZERO = new Uint8Array([0]);
  var ONE = new Uint8Array([1]);

  function leafHash(entry) { return sha256(concat([ZERO, entry])); }
  function nodeHash(left, right) { return sha256(concat([ONE, left, right])); }

  // Sizes and indexes stay below 2^53: halve with Math.floor, test bits with % 2.
  function odd(n) { return n % 2 === 1; }
  function half(n) { return Math.floor(n / 2); }

  // -- failures carry the text shown to the reader ---------------------------------------

  function Fail(zh, en) {
    this.message = say(zh, en);
  }

  // -- signed notes, checkpoints, verifier keys -------------------------------------------

  function parseVkey(text) { return parseVkeyOfType(text, 1); }

  /** A witness's key: <name>+<hex key ID>+<base64(0x04 || key)> (tlog-cosignature v1). */
  function parseWitnessVkey(text) { return parseVkeyOfType(text, 4); }

  function parseVkeyOfType(text, type) {
    // <name>+<hex key ID>+<base64(type || key)>: the base64 may contain "+" too.
    var m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
    if (!m) return null;
    var parts = m.slice(1);
    var raw;
    try { raw = b64decode(parts[2]); } catch (e) { return null; }
    if (raw.length !== 33 || raw[0] !== type) return null;
    var name = parts[0];
    var pub = raw.slice(1);
    // key ID = SHA-256(name || 0x0A || type || key)[:4]
    return sha256(concat([encoder.encode(name + "\n"), raw])).then(function (d) {
      var id = ((d[0] << 24) >>> 0) + (d[1] << 16) + (d[2] << 8) + d[3];
      if (id !== parseInt(parts[1], 16)) return null;
      return crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"])
        .then(function (key) { return { name: name, id: id, key: key }; });
    });
  }

  function parseNote(text) {
    if (text.slice(-1) !== "\n") throw new Fail("检查点格式错误", "malformed checkpoint (no final newline)");
    var split = text.lastIndexOf("\n\n");
    if (split < 0) throw new Fail("检查点格式错误", "malformed checkpoint (no signatures)");
    var body = text.slice(0, split + 1);
    var sigs = [];
    text.slice(split + 2, -1).split("\n").forEach(function (line) {
      if (line.indexOf("\u2014 ") !== 0) throw new Fail("检查点签名行错误", "malformed signature line");
      var rest = line.slice(2);
      var sp = rest.lastIndexOf(" ");
      if (sp <= 0) throw new Fail("检查点签名行错误", "malformed signature line");
      var blob;
      try { blob = b64decode(rest.slice(sp + 1)); } catch (e) {
        throw new Fail("检查点签名行错误", "malformed signature line");
      }
      if (blob.length < 5) throw new Fail("检查点签名行错误", "malformed signature line");
      var id = ((blob[0] << 24) >>> 0) + (blob[1] << 16) + (blob[2] << 8) + blob[3];
      sigs.push({ name: rest.slice(0, sp), id: id, sig: blob.slice(4) });
    });
    return { body: body, sigs: sigs };
  }

  function parseCheckpointBody(body) {
    var lines = body.split("\n");
    if (lines.length < 4 || !lines[0] || !/^(0|[1-9][0-9]{0,15})$/.test(lines[1])) {
      throw new Fail("检查点格式错误", "malformed checkpoint");
    }
    var root;
    try { root = b64decode(lines[2]); } catch (e) { root = null; }
    if (!root || root.length !== 32) throw new Fail("检查点格式错误", "malformed root hash");
    return { origin: lines[0], size: Number(lines[1]), root: root };
  }

  /** Resolve to {origin, size, root} if a listed key signed the note; reject otherwise. */
  function openCheckpoint(text, keys) {
    var note;
    try { note = parseNote(text); } catch (e) { return Promise.reject(e); }
    var message = encoder.encode(note.body);
    var checks = note.sigs.map(function (s) {
      var k = keys.filter(function (k) { return k.name === s.name && k.id === s.id; })[0];
      if (!k) return Promise.resolve(null); // signed-note: ignore unknown keys
      if (s.sig.length !== 64) return Promise.resolve(false);
      return crypto.subtle.verify({ name: "Ed25519" }, k.key, s.sig, message);
    });
    return Promise.all(checks).then(function (results) {
      if (results.indexOf(false) >= 0) {
        throw new Fail("检查点签名无效", "checkpoint signature does not verify");
      }
      if (results.indexOf(true) < 0) {
        throw new Fail("检查点未由所列公钥签名", "checkpoint not signed by a listed key");
      }
      return parseCheckpointBody(note.body);
    });
  }

  // -- witness cosignatures (C2SP tlog-cosignature v1, Ed25519) ---------------------------

  var TWO32 = 4294967296;

  function u32(b, at) {
    return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
  }

  /**
   * Verify one cosignature: resolve to {timestamp, ok} where timestamp is the signed
   * POSIX time as a decimal string ("" if malformed) and ok tells if the Ed25519
   * signature over "cosignature/v1\ntime <timestamp>\n" || body verifies with key.
   */
  function verifyCosignature(key, sig, body) {
    // timestamped_signature: u64 big-endian timestamp || 64-byte Ed25519 signature
    if (sig.length !== 8 + 64) return Promise.resolve({ timestamp: "", ok: false });
    var hi = u32(sig, 0), lo = u32(sig, 4);
    // The timestamp MUST NOT exceed 2^63 - 1; decimal without leading zeroes.
    if (hi >= 0x80000000) return Promise.resolve({ timestamp: "", ok: false });
    var timestamp = hi < 0x200000 ? String(hi * TWO32 + lo)
      : (BigInt(hi) * BigInt(TWO32) + BigInt(lo)).toString();
    var message = encoder.encode("cosignature/v1\ntime " + timestamp + "\n" + body);
    return crypto.subtle.verify({ name: "Ed25519" }, key.key, sig.slice(8), message)
      .then(function (ok) { return { timestamp: timestamp, ok: ok }; });
  }

  /**
   * The cosignatures of a signed note by the given witness keys (others are ignored,
   * per signed-note): a list of {name, id, timestamp, ok}, in note order.
   */
  function openCosignatures(text, witnessKeys) {
    var note;
    try { note = parseNote(text); } catch (e) { return Promise.reject(e); }
    var checks = [];
    note.sigs.forEach(function (s) {
      var k = witnessKeys.filter(function (k) { return k.name === s.name && k.id === s.id; })[0];
      if (!k) return;
      checks.push(verifyCosignature(k, s.sig, note.body).then(function (r) {
        return { name: k.name, id: k.id, timestamp: r.timestamp, ok: r.ok };
      }));
    });
    return Promise.all(checks);
  }

  function hex8(n) { return ("0000000" + n.toString(16)).slice(-8); }

  /**
   * Check the page's witnesses against the notice's checkpoint and mark each row of
   * table#cosignatures.  Resolves to null when the page lists no witnesses, otherwise
   * to {text, ok} for the summary.
   */
  function checkWitnesses(noteText) {
    var list = document.getElementById("witnesses");
    if (!list) return Promise.resolve(null);
    var required = Number(list.getAttribute("data-required") || "0");
    var items = Array.prototype.slice.call(list.querySelectorAll("li"));
    var rows = Array.prototype.slice.call(document.querySelectorAll("#cosignatures tr[data-witness]"));
    var cells = rows.map(function (r) { return r.querySelector(".check"); });
    cells.forEach(function (c) { if (c) { c.textContent = ""; c.className = "check"; } });
    var total = items.length;
    return Promise.all(items.map(function (li) {
      var code = li.querySelector("code.vkey");
      return code ? parseWitnessVkey(code.textContent) : null;
    })).then(function (keys) {
      keys = keys.filter(function (k) { return k; });
      return openCosignatures(noteText, keys).then(function (found) {
        var good = {}, bad = 0, shownKeys = {};
        found.forEach(function (r) { if (r.ok) good[r.name + "+" + hex8(r.id)] = true; });
        rows.forEach(function (row, i) {
          var name = row.getAttribute("data-witness");
          var id = row.getAttribute("data-key-id");
          var shown = row.getAttribute("data-timestamp");
          shownKeys[name + "+" + id] = true;
          var mine = found.filter(function (r) { return r.name === name && hex8(r.id) === id; });
          var ok = false, why;
          if (!mine.length) {
            why = say("未由所列见证方公钥签名", "not signed by a listed witness key");
          } else if (mine.some(function (r) { return r.ok && r.timestamp === shown; })) {
            ok = true;
          } else if (mine.some(function (r) { return r.ok; })) {
            why = say("联署时间与页面不符", "cosignature time differs from the page");
          } else {
            why = say("联署签名无效", "cosignature does not verify");
          }
          if (!ok) bad++;
          if (cells[i]) mark(cells[i], ok, why);
        });
        // A bad cosignature by a listed witness that the page has no row for counts too.
        found.forEach(function (r) { if (!r.ok && !shownKeys[r.name + "+" + hex8(r.id)]) bad++; });
        var n = Object.keys(good).length;
        var text = say("已由 " + n + "/" + total + " 个见证方联署（已在本浏览器中验证）",
          "cosigned by " + n + " of " + total + " witnesses (verified in your browser)");
        var ok = true;
        if (bad) {
          text += "; " + say(bad + " 项联署验证失败", bad + " cosignature check(s) failed");
          ok = false;
        }
        if (n < required) {
          text += "; " + say("少于公示要求的 " + required + " 个",
            "fewer than the " + required + " required");
          ok = false;
        }
        return { text: text, ok: ok };
      });
    }).then(null, function (e) {
      cells.forEach(function (c) { if (c) mark(c, false, failText(e)); });
      return {
        text: say("见证联署无法验证", "witness cosignatures could not be verified:") + " " +
          failText(e),
        ok: false
      };
    });
  }

  // -- RFC 9162 proofs --------------------------------------------------------------------

  // Hashing a proof's next node onto the running hash h, from the left or the right.
  function fromLeft(node) { return function (h) { return nodeHash(node, h); }; }
  function fromRight(node) { return function (h) { return nodeHash(h, node); }; }

  /** One step up the path of §2.1.3.2 and §2.1.4.2 from node fn of last node sn: whether
   *  the proof's next node is on the left, and the (fn, sn) of the step after. */
  function climb(fn, sn) {
    var left = odd(fn) || fn === sn;
    if (left && !odd(fn)) {
      while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    }
    return { left: left, fn: half(fn), sn: half(sn) };
  }

  /** §2.1.3.2: the root an inclusion proof leads to, or null if it is malformed. */
  function rootFromInclusion(leaf, index, size, path) {
    if (index >= size) return Promise.resolve(null);
    var fn = index, sn = size - 1, r = Promise.resolve(leaf);
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) return Promise.resolve(null);
      var up = climb(fn, sn);
      r = r.then(up.left ? fromLeft(path[i]) : fromRight(path[i]));
      fn = up.fn; sn = up.sn;
    }
    if (sn !== 0) return Promise.resolve(null);
    return r;
  }

  /** §2.1.4.2: true if the tree (size2, root2) extends (size1, root1). */
  function verifyConsistency(size1, root1, size2, root2, path) {
    if (size1 > size2) return Promise.resolve(false);
    if (size1 === size2) return Promise.resolve(path.length === 0 && equal(root1, root2));
    if (size1 === 0) return Promise.resolve(path.length === 0);
    if (path.length === 0) return Promise.resolve(false);
    var p = path.slice();
    var m = size1;
    while (m > 1 && !odd(m)) m = half(m);
    if (m === 1) p.unshift(root1); // size1 is a power of two: the old root starts the path
    var fn = size1 - 1, sn = size2 - 1;
    if (odd(fn)) {
      while (odd(fn)) { fn = half(fn); sn = half(sn); }
    }
    var fr = Promise.resolve(p[0]), sr = Promise.resolve(p[0]);
    for (var i = 1; i < p.length; i++) {
      if (sn === 0) return Promise.resolve(false);
      var up = climb(fn, sn);
      if (up.left) fr = fr.then(fromLeft(p[i]));
      sr = sr.then(up.left ? fromLeft(p[i]) : fromRight(p[i]));
      fn = up.fn; sn = up.sn;
    }
    if (sn !== 0) return Promise.resolve(false);
    return Promise.all([fr, sr]).then(function (r) {
      return equal(r[0], root1) && equal(r[1], root2);
    });
  }

  /** Parse a c2sp.org/tlog-proof@v1 text. */
  function parseProof(text) {
    var cut = text.indexOf("\n\n");
    if (cut < 0) throw new Fail("证明格式错误", "malformed proof (no checkpoint)");
    var lines = text.slice(0, cut).split("\n");
    if (lines[0] !== "c2sp.org/tlog-proof@v1") {
      throw new Fail("证明格式错误", "not a c2sp.org/tlog-proof@v1");
    }
    var pos = 1;
    if (pos < lines.length && lines[pos].indexOf("extra ") === 0) pos++;
    var m = pos < lines.length && /^index (0|[1-9][0-9]{0,15})$/.exec(lines[pos]);
    if (!m) throw new Fail("证明格式错误", "malformed proof (index)");
    var path = [];
    for (var i = pos + 1; i < lines.length; i++) {
      var h;
      try { h = b64decode(lines[i]); } catch (e) { h = null; }
      if (!h || h.length !== 32) throw new Fail("证明格式错误", "malformed proof (hash)");
      path.push(h);
    }
    return { index: Number(m[1]), path: path, checkpoint: text.slice(cut + 2) };
  }

  // -- fetching, at most CONCURRENCY at a time ----------------------------------------------

  var active = 0;
  var waiting = [];

  function limited(url, as) {
    return new Promise(function (resolve) {
      if (active < CONCURRENCY) { active++; resolve(); } else { waiting.push(resolve); }
    }).then(function () {
      // no-store: check what the server holds now, not what the browser saw earlier.
      return fetch(url, { cache: "no-store", credentials: "omit" }).then(function (resp) {
        if (!resp.ok) throw new Fail("无法获取", "could not fetch " + url + " (HTTP " + resp.status + ")");
        return as === "text" ? resp.text() : resp.arrayBuffer();
      });
    }).then(function (v) { release(); return v; }, function (e) {
      release();
      if (e instanceof Fail) throw e;
      throw new Fail("网络错误", "network error (" + url + ")");
    });
  }

  function release() {
    var next = waiting.shift();
    if (next) { next(); } else { active--; }
  }

  // -- one notice ----------------------------------------------------------------------

  function mark(cell, ok, text) {
    cell.textContent = ok ? OK_TEXT : "\u2717 " + text;
    cell.className = "check " + (ok ? "ok" : "bad");
  }

  function Verifier(table, summary) {
    this.table = table;
    this.summary = summary;
    this.log = table.getAttribute("data-log");
    this.checkpoints = {}; // note text -> promise of {origin, size, root}
    this.consistent = {}; // proof tree size -> promise of true/false
  }

  Verifier.prototype.start = function () {
    var self = this;
    var cp = document.getElementById("checkpoint");
    var items = Array.prototype.slice.call(document.querySelectorAll("#keys li"));
    return Promise.all(items.map(function (li) { return parseVkey(li.textContent); }))
      .then(function (keys) {
        self.keys = keys.filter(function (k) { return k; });
        if (!self.keys.length) throw new Fail("页面未列出有效公钥", "no valid verifier key on this page");
        var text = cp ? cp.textContent : "";
        return openCheckpoint(text.slice(-1) === "\n" ? text : text + "\n", self.keys);
      })
      .then(function (page) { self.page = page; });
  };

  Verifier.prototype.checkpoint = function (text) {
    if (!this.checkpoints[text]) this.checkpoints[text] = openCheckpoint(text, this.keys);
    return this.checkpoints[text];
  };

  Verifier.prototype.consistency = function (cp) {
    var self = this, page = this.page;
    var key = cp.size + " " + Array.prototype.join.call(cp.root, ",");
    if (!this.consistent[key]) {
      var url = "/logs/" + encodeURIComponent(this.log) + "/proof/consistency?old=" +
        page.size + "&new=" + cp.size;
      this.consistent[key] = (page.size === cp.size
        ? Promise.resolve({ hashes: [] })
        : limited(url, "text").then(JSON.parse))
        .then(function (data) {
          var hashes = (data.hashes || []).map(b64decode);
          return verifyConsistency(self.page.size, self.page.root, cp.size, cp.root, hashes);
        });
    }
    return this.consistent[key];
  };

  Verifier.prototype.line = function (row) {
    var self = this;
    var index = Number(row.getAttribute("data-index"));
    var link = row.querySelector("a[href*='/tlog-proof']");
    var proofUrl = link ? link.getAttribute("href")
      : "/logs/" + encodeURIComponent(this.log) + "/entries/" + index + "/tlog-proof";
    var entryUrl = "/logs/" + encodeURIComponent(this.log) + "/entries/" + index;
    var proof, entry, cp;
    return Promise.all([limited(proofUrl, "text"), limited(entryUrl, "bytes")])
      .then(function (got) {
        proof = parseProof(got[0]);
        entry = new Uint8Array(got[1]);
        var json;
        try { json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entry)); }
        catch (e) { throw new Fail("记录不是有效 JSON", "entry is not valid JSON"); }
        if (!json || json.index !== index) {
          throw new Fail("记录序号不符", "entry index does not match the line");
        }
        if (json.type !== "decision.made") {
          throw new Fail("记录不是认定决定", "entry is not a decision (decision.made)");
        }
        if (proof.index !== index) throw new Fail("证明序号不符", "proof is for another index");
        return self.checkpoint(proof.checkpoint);
      })
      .then(function (c) {
        cp = c;
        if (cp.origin !== self.page.origin) {
          throw new Fail("检查点来源不符", "checkpoint origin differs from the notice's log");
        }
        if (cp.size < self.page.size) {
          throw new Fail("检查点早于公示", "checkpoint older than the notice's");
        }
        return leafHash(entry);
      })
      .then(function (leaf) { return rootFromInclusion(leaf, index, cp.size, proof.path); })
      .then(function (root) {
        if (!root || !equal(root, cp.root)) {
          throw new Fail("记录与账本不符", "entry not in the ledger (inclusion proof fails)");
        }
        return self.consistency(cp);
      })
      .then(function (consistent) {
        if (!consistent) {
          throw new Fail("账本与公示时不一致", "log not consistent with the notice's checkpoint");
        }
      });
  };

  function failText(e) {
    return e instanceof Fail ? e.message
      : say("验证出错", "verification error") + " (" + (e && e.message || e) + ")";
  }

  function run(button, summary) {
    var table = document.getElementById("lines");
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tr[data-index]"));
    var cells = rows.map(function (r) { return r.querySelector(".check"); });
    var total = rows.length, good = 0, bad = 0, next = 0;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    summary.className = "";
    summary.textContent = say("验证中", "Verifying") + "\u2026 0/" + total;
    cells.forEach(function (c) { if (c) { c.textContent = ""; c.className = "check"; } });
    var v = new Verifier(table, summary);

    function progress() {
      var done = good + bad;
      if (done % 50 === 0 || done === total) {
        summary.textContent = say("验证中", "Verifying") + "\u2026 " + done + "/" + total;
      }
    }

    function worker() {
      if (next >= total) return Promise.resolve();
      var i = next++;
      return v.line(rows[i]).then(function () {
        good++;
        if (cells[i]) mark(cells[i], true);
      }, function (e) {
        bad++;
        if (cells[i]) mark(cells[i], false, failText(e));
      }).then(function () { progress(); return worker(); });
    }

    // The witnesses' cosignatures of the notice's checkpoint: checked alongside the lines,
    // reported after them (null when the page lists no witnesses).
    var cp = document.getElementById("checkpoint");
    var cpText = cp ? cp.textContent : "";
    var witnessed = checkWitnesses(cpText.slice(-1) === "\n" ? cpText : cpText + "\n");

    function finish(text, ok) {
      return witnessed.then(function (w) {
        summary.textContent = w ? text + "; " + w.text : text;
        summary.className = "check " + (ok && (!w || w.ok) ? "ok" : "bad");
      });
    }

    v.start().then(function () {
      var workers = [];
      for (var w = 0; w < Math.min(CONCURRENCY * 2, total); w++) workers.push(worker());
      return Promise.all(workers).then(function () {
        if (bad === 0) {
          return finish(good + "/" + total + " " + say("已验证", "verified"), true);
        }
        return finish(good + "/" + total + " " + say("已验证", "verified") + "; " + bad +
          " " + say("项验证失败", "failed"), false);
      });
    }, function (e) {
      var text = say("公示检查点无效", "the notice's checkpoint does not verify:") + " " +
        failText(e);
      cells.forEach(function (c) { if (c) mark(c, false, failText(e)); });
      return finish("0/" + total + " " + say("已验证", "verified") + "; " + text, false);
    }).then(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }

  function init() {
    var button = document.getElementById("verify-all");
    var summary = document.getElementById("verify-summary");
    if (!button || !summary) return;
    if (!window.crypto || !crypto.subtle || !window.fetch) {
      summary.textContent = say("此浏览器不支持验证", "This browser cannot verify (no WebCrypto)");
      return;
    }
    // A <button> is focusable and fires "click" on Enter and Space.
    button.addEventListener("click", function () { run(button, summary); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }

  // For tests and other scripts: the pure checks.
  window.absentiaVerify = {
    rootFromInclusion: rootFromInclusion,
    verifyConsistency: verifyConsistency,
    parseProof: parseProof,
    openCheckpoint: openCheckpoint,
    parseVkey: parseVkey,
    parseWitnessVkey: parseWitnessVkey,
    openCosignatures: openCosignatures
  };
})();
