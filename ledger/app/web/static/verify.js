/*
 * Absentia: verify a public notice in the reader's browser.
 *
 * By tiles (the default): for the lines (tr[data-index]) of table#lines the script
 * fetches, from this site, the log's latest cosigned checkpoint (/logs/<log>/checkpoint)
 * and its C2SP tlog-tiles (hash tiles tile/<L>/<N>[.p/<W>] and entry bundles
 * tile/entries/<N>[.p/<W>], immutable, so fetched through the browser's cache), then
 * checks:
 *   1. the checkpoint is signed (C2SP signed-note, Ed25519) by a key listed in ul#keys
 *      (signatures by unknown keys are ignored), names the origin of the notice's own
 *      checkpoint (pre#checkpoint) and is at least as large;
 *   2. the RFC 9162 root recomputed from the tiles is the checkpoint's root: the partial
 *      right-edge tiles make the root, each full tile hashes up to its parent's hash;
 *   3. each line's entry, from its bundle, is the decision the line cites (JSON "index"
 *      equals the row's index, "type" is "decision.made") and SHA-256(0x00 || entry)
 *      is the level-0 hash at that index;
 *   4. the notice's own checkpoint, and the last checkpoint this browser verified for
 *      this origin (localStorage), are prefixes of the tree (their roots recomputed from
 *      its tiles): the log only grew.  A fork or rollback fails loudly (div#verify-alert,
 *      role="alert") and the remembered checkpoint is kept; otherwise it is replaced.
 * One candidate's line is found by registration number (form#find-form) and verified
 * alone.  <main> carries data-verification (pending, verifying, verified, failed) and
 * data-verified-lines; div#verify-summary (a polite live region) says what was checked,
 * in the words of words_tiles.toml (/static/publicity/verify-words.json).
 *
 * Per line (?verify=per-line, the older method, kept for comparison): each line's
 * tlog-proof and entry bytes; the proof's checkpoint signed, its inclusion proof
 * (RFC 9162 §2.1.3.2) leading to its root, and consistent (§2.1.4.2) with the notice's.
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
 * witness does not verify.  By tiles, the latest checkpoint's cosignatures by listed
 * witnesses are verified and counted too: a bad one fails; fewer than k does not (the
 * witnesses may not have seen it yet, and the notice's cosigned checkpoint is proven a
 * prefix of it, so its lines are in the witnessed tree).
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
      var cp = parseCheckpointBody(note.body);
      // Which listed keys signed it (shown to the reader: name and key ID).
      cp.signers = note.sigs.filter(function (s, i) { return results[i] === true; })
        .map(function (s) { return { name: s.name, id: s.id }; });
      cp.text = text;
      return cp;
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

  /** GET url as "text" or "bytes", at most CONCURRENCY at a time.  cache "no-store" (the
   *  default) checks what the server holds now; tiles and entry bundles are immutable, so
   *  they are fetched with the browser's cache ("default"). */
  function limited(url, as, cache) {
    return new Promise(function (resolve) {
      if (active < CONCURRENCY) { active++; resolve(); } else { waiting.push(resolve); }
    }).then(function () {
      // no-store: check what the server holds now, not what the browser saw earlier.
      return fetch(url, { cache: cache || "no-store", credentials: "omit" }).then(function (resp) {
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

  // -- the words of the result (words_tiles.toml, served as JSON) -------------------------

  var WORDS = {};

  /** The page's words for key (both languages on a bilingual page), placeholders filled. */
  function w(key, vars) {
    var pair = WORDS[key] || [key, key];
    var text = say(pair[0], pair[1]);
    return text.replace(/\{([a-z]+)\}/g, function (all, name) {
      return vars && name in vars ? String(vars[name]) : all;
    });
  }

  /** A failure whose words come from words_tiles.toml. */
  function failW(key, vars) {
    var f = new Fail("", "");
    f.message = w(key, vars);
    return f;
  }

  function loadWords() {
    return limited("/static/publicity/verify-words.json", "text", "default")
      .then(function (text) { WORDS = JSON.parse(text); });
  }

  function b64encode(bytes) {
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  // -- C2SP tlog-tiles ----------------------------------------------------------------------
  //
  // A tile at level L holds the Merkle hashes of level 8L (subtrees of 256^L leaves), 256
  // a full tile; the right edge of each level is a partial tile ".p/W".  The tiles a tree
  // of size N is served as are fixed by N, so they are immutable and cacheable.
  //
  // Trust flows from the signed root: the partial (right-edge) tiles are exactly the
  // hashes the root of size N is made of, so recomputing the root from them authenticates
  // them; a full tile's 256 hashes hash up (8 levels) to one hash of its parent tile, which
  // authenticates it once its parent is.  An entry is in the tree when SHA-256(0x00 ||
  // entry bytes), from its entry bundle, equals the authenticated level-0 hash at its index.

  var TILE = 256;

  /** A tile index as tlog-tiles path elements: 1234067 -> "x001/x234/067". */
  function encodeIndex(n) {
    var groups = [];
    do {
      groups.unshift(("00" + (n % 1000)).slice(-3));
      n = Math.floor(n / 1000);
    } while (n > 0);
    return groups.map(function (g, i) { return i < groups.length - 1 ? "x" + g : g; }).join("/");
  }

  /** The root of 2^k hashes (a perfect subtree), hashed a level at a time in parallel. */
  function perfectRoot(hashes) {
    if (hashes.length === 1) return Promise.resolve(hashes[0]);
    var next = [];
    for (var i = 0; i + 1 < hashes.length; i += 2) next.push(nodeHash(hashes[i], hashes[i + 1]));
    return Promise.all(next).then(perfectRoot);
  }

  function TileTree(log, size, root) {
    this.base = "/logs/" + encodeURIComponent(log) + "/";
    this.size = size;
    this.root = root;
    this.raw = {};     // "L/t" -> promise of the tile's hashes as fetched
    this.trusted = {}; // "L/t" -> promise of the tile's hashes, authenticated
    this.bundles = {}; // t -> promise of the bundle's entries
    this.rootChecked = null;
  }

  /** How many hashes level 8L of the tree has. */
  TileTree.prototype.count = function (level) {
    return Math.floor(this.size / Math.pow(TILE, level));
  };

  TileTree.prototype.width = function (level, t) {
    return Math.min(TILE, this.count(level) - TILE * t);
  };

  TileTree.prototype.fetchTile = function (level, t) {
    var key = level + "/" + t;
    if (!this.raw[key]) {
      var width = this.width(level, t);
      if (width <= 0) return Promise.reject(failW("tiles_tile_bad"));
      var url = this.base + "tile/" + level + "/" + encodeIndex(t) +
        (width < TILE ? ".p/" + width : "");
      this.raw[key] = limited(url, "bytes", "default").then(function (buf) {
        var b = new Uint8Array(buf);
        if (b.length !== width * 32) throw failW("tiles_tile_bad");
        var out = [];
        for (var i = 0; i < width; i++) out.push(b.subarray(i * 32, i * 32 + 32));
        return out;
      });
    }
    return this.raw[key];
  };

  /** A tile's hashes once they are proven to belong to the signed tree. */
  TileTree.prototype.tile = function (level, t) {
    var self = this, key = level + "/" + t;
    if (!this.trusted[key]) {
      if (this.width(level, t) < TILE) {
        this.trusted[key] = this.checkRoot().then(function () { return self.fetchTile(level, t); });
      } else {
        this.trusted[key] = Promise.all([this.fetchTile(level, t),
          this.tile(level + 1, Math.floor(t / TILE))]).then(function (got) {
          return perfectRoot(got[0]).then(function (top) {
            if (!equal(top, got[1][t % TILE])) throw failW("tiles_tree_bad");
            return got[0];
          });
        });
      }
    }
    return this.trusted[key];
  };

  /** The hash of node (k, i): the subtree of 2^k leaves starting at leaf i * 2^k. */
  TileTree.prototype.node = function (k, i, get) {
    var level = Math.floor(k / 8), span = Math.pow(2, k % 8);
    var start = i * span, t = Math.floor(start / TILE), at = start % TILE;
    return get(level, t).then(function (hashes) {
      if (hashes.length < at + span) throw failW("tiles_tile_bad");
      return perfectRoot(hashes.slice(at, at + span));
    });
  };

  /** RFC 9162 §2.1.1: the root of the first m leaves, from tiles got by get(L, t). */
  TileTree.prototype.rootAt = function (m, get) {
    if (m === 0) return sha256(new Uint8Array(0));
    var nodes = [];
    for (var k = Math.floor(Math.log2(m)) + 1; k >= 0; k--) {
      var n = Math.floor(m / Math.pow(2, k));
      if (odd(n)) nodes.push(this.node(k, n - 1, get));
    }
    return Promise.all(nodes).then(function (hs) {
      var h = Promise.resolve(hs[hs.length - 1]);
      for (var j = hs.length - 2; j >= 0; j--) h = h.then(fromLeft(hs[j]));
      return h;
    });
  };

  /** Resolve once the right-edge tiles hash to the signed root; reject otherwise. */
  TileTree.prototype.checkRoot = function () {
    var self = this;
    if (!this.rootChecked) {
      this.rootChecked = this.rootAt(this.size, function (l, t) { return self.fetchTile(l, t); })
        .then(function (r) { if (!equal(r, self.root)) throw failW("tiles_tree_bad"); });
    }
    return this.rootChecked;
  };

  /** RFC 9162 §2.1.4 from tiles: true if the tree (m, oldRoot) is a prefix of this one. */
  TileTree.prototype.extends = function (m, oldRoot) {
    var self = this;
    if (m > this.size) return Promise.resolve(false);
    return this.checkRoot().then(function () {
      if (m === self.size) return equal(oldRoot, self.root);
      return self.rootAt(m, function (l, t) { return self.tile(l, t); })
        .then(function (r) { return equal(r, oldRoot); });
    });
  };

  TileTree.prototype.bundle = function (t) {
    if (!this.bundles[t]) {
      var width = Math.min(TILE, this.size - TILE * t);
      var url = this.base + "tile/entries/" + encodeIndex(t) + (width < TILE ? ".p/" + width : "");
      this.bundles[t] = limited(url, "bytes", "default").then(function (buf) {
        var b = new Uint8Array(buf), out = [], pos = 0;
        while (pos < b.length) {  // big-endian uint16 length, then the entry's bytes
          if (pos + 2 > b.length) throw failW("tiles_bundle_bad");
          var n = (b[pos] << 8) | b[pos + 1];
          pos += 2;
          if (pos + n > b.length) throw failW("tiles_bundle_bad");
          out.push(b.subarray(pos, pos + n));
          pos += n;
        }
        if (out.length !== width) throw failW("tiles_bundle_bad");
        return out;
      });
    }
    return this.bundles[t];
  };

  /** Resolve if entry `index` is in the tree and is the decision the line cites. */
  TileTree.prototype.line = function (index) {
    if (!(index < this.size)) return Promise.reject(failW("tiles_beyond"));
    var t = Math.floor(index / TILE);
    var tile = this.tile(0, t);
    return this.bundle(t).then(function (entries) {
      var entry = entries[index % TILE];
      checkDecision(entry, index);
      return Promise.all([leafHash(entry), tile]);
    }).then(function (got) {
      if (!equal(got[0], got[1][index % TILE])) {
        throw new Fail("记录与账本不符", "entry not in the ledger (inclusion proof fails)");
      }
    });
  };

  /** The line's own checks of the entry bytes: the entry the line cites, a decision. */
  function checkDecision(entry, index) {
    var json;
    try { json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entry)); }
    catch (e) { throw new Fail("记录不是有效 JSON", "entry is not valid JSON"); }
    if (!json || json.index !== index) {
      throw new Fail("记录序号不符", "entry index does not match the line");
    }
    if (json.type !== "decision.made") {
      throw new Fail("记录不是认定决定", "entry is not a decision (decision.made)");
    }
  }

  // -- the last checkpoint this browser verified, per log origin ---------------------------

  var SEEN_PREFIX = "absentia.checkpoint:";

  function readSeen(origin) {
    try {
      var v = JSON.parse(window.localStorage.getItem(SEEN_PREFIX + origin) || "null");
      if (!v || typeof v.size !== "number" || typeof v.root !== "string") return null;
      return { size: v.size, root: b64decode(v.root), note: v.note };
    } catch (e) { return null; }
  }

  function writeSeen(cp) {
    try {
      window.localStorage.setItem(SEEN_PREFIX + cp.origin, JSON.stringify(
        { size: cp.size, root: b64encode(cp.root), note: cp.text }));
    } catch (e) { /* private mode or full: nothing remembered */ }
  }

  /** Compare the log's tree with what this browser saw before: {kind, old}, kind one of
   *  first, same, grew, fork (a different tree at that size, or a smaller one). */
  function compareSeen(tree, latest) {
    var seen = readSeen(latest.origin);
    if (!seen) return Promise.resolve({ kind: "first" });
    if (seen.size > latest.size) return Promise.resolve({ kind: "fork", old: seen });
    return tree.extends(seen.size, seen.root).then(function (ok) {
      return { kind: !ok ? "fork" : seen.size === latest.size ? "same" : "grew", old: seen };
    }, function (e) { return { kind: "unchecked", old: seen, why: failText(e) }; });
  }

  // -- the per-line method (one tlog-proof a line; ?verify=per-line) -----------------------

  function mark(cell, ok, text) {
    cell.textContent = ok ? OK_TEXT : "\u2717 " + text;
    cell.className = "check " + (ok ? "ok" : "bad");
  }

  function Verifier(table) {
    this.table = table;
    this.log = table.getAttribute("data-log");
    this.checkpoints = {}; // note text -> promise of {origin, size, root}
    this.consistent = {}; // proof tree size -> promise of true/false
  }

  function pageKeys() {
    var items = Array.prototype.slice.call(document.querySelectorAll("#keys li"));
    return Promise.all(items.map(function (li) { return parseVkey(li.textContent); }))
      .then(function (keys) {
        keys = keys.filter(function (k) { return k; });
        if (!keys.length) throw new Fail("页面未列出有效公钥", "no valid verifier key on this page");
        return keys;
      });
  }

  function pageNote() {
    var cp = document.getElementById("checkpoint");
    var text = cp ? cp.textContent : "";
    return text.slice(-1) === "\n" ? text : text + "\n";
  }

  Verifier.prototype.start = function () {
    var self = this;
    return pageKeys().then(function (keys) {
      self.keys = keys;
      return openCheckpoint(pageNote(), self.keys);
    }).then(function (page) { self.page = page; });
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
        checkDecision(entry, index);
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

  // -- what the page shows: state on <main>, the summary, the marks -------------------------

  var UI = {};

  function setState(state, lines) {
    if (!UI.main) return;
    UI.main.setAttribute("data-verification", state);
    UI.main.setAttribute("data-verified-lines", String(lines));
  }

  function busy(on) {
    [UI.button, UI.findButton].forEach(function (b) {
      if (!b) return;
      b.disabled = on;
      if (on) { b.setAttribute("aria-busy", "true"); } else { b.removeAttribute("aria-busy"); }
    });
  }

  /** Show the outcome: a headline and one item per check, each marked ✓ or ✗. */
  function showResult(headline, ok, checks) {
    var s = UI.summary;
    s.textContent = "";
    s.className = "check " + (ok ? "ok" : "bad");
    var p = document.createElement("p");
    p.id = "verify-headline";
    p.textContent = (ok ? "\u2713 " : "\u2717 ") + headline;
    s.appendChild(p);
    if (checks.length) {
      var ul = document.createElement("ul");
      ul.id = "verify-checks";
      checks.forEach(function (c) {
        var li = document.createElement("li");
        li.className = "check " + (c.ok ? "ok" : "bad");
        li.textContent = (c.ok ? "\u2713 " : "\u2717 ") + c.text;
        ul.appendChild(li);
      });
      s.appendChild(ul);
    }
  }

  function showProgress(text) {
    UI.summary.className = "";
    UI.summary.textContent = text;
  }

  function alarm(text) {
    if (UI.alert) { UI.alert.textContent = text; UI.alert.hidden = false; }
  }

  function hex(bytes) { return b64encode(bytes); }

  function runPerLine(rows) {
    var cells = rows.map(function (r) { return r.querySelector(".check"); });
    var total = rows.length, good = 0, bad = 0, next = 0;
    busy(true);
    setState("verifying", 0);
    showProgress(say("验证中", "Verifying") + "\u2026 0/" + total);
    cells.forEach(function (c) { if (c) { c.textContent = ""; c.className = "check"; } });
    var v = new Verifier(document.getElementById("lines"));

    function worker() {
      if (next >= total) return Promise.resolve();
      var i = next++;
      return v.line(rows[i]).then(function () {
        good++;
        if (cells[i]) mark(cells[i], true);
      }, function (e) {
        bad++;
        if (cells[i]) mark(cells[i], false, failText(e));
      }).then(function () {
        if ((good + bad) % 50 === 0) {
          showProgress(say("验证中", "Verifying") + "\u2026 " + (good + bad) + "/" + total);
        }
        return worker();
      });
    }

    var witnessed = checkWitnesses(pageNote());

    function finish(text, ok) {
      return witnessed.then(function (wt) {
        ok = ok && (!wt || wt.ok);
        showResult(wt ? text + "; " + wt.text : text, ok, []);
        setState(ok ? "verified" : "failed", good);
      });
    }

    return v.start().then(function () {
      var workers = [];
      for (var k = 0; k < Math.min(CONCURRENCY * 2, total); k++) workers.push(worker());
      return Promise.all(workers).then(function () {
        var text = good + "/" + total + " " + say("已验证", "verified");
        if (bad) text += "; " + bad + " " + say("项验证失败", "failed");
        return finish(text, bad === 0);
      });
    }, function (e) {
      cells.forEach(function (c) { if (c) mark(c, false, failText(e)); });
      return finish("0/" + total + " " + say("已验证", "verified") + "; " +
        say("公示检查点无效", "the notice's checkpoint does not verify:") + " " + failText(e),
        false);
    }).then(function () { busy(false); });
  }

  /** The latest checkpoint's cosignatures by the page's witnesses: null without
   *  witnesses on the page, else {n, m, bad}. */
  function latestCosignatures(text) {
    var items = Array.prototype.slice.call(document.querySelectorAll("#witnesses li"));
    if (!items.length) return Promise.resolve(null);
    return Promise.all(items.map(function (li) {
      var code = li.querySelector("code.vkey");
      return code ? parseWitnessVkey(code.textContent) : null;
    })).then(function (keys) {
      keys = keys.filter(function (k) { return k; });
      return openCosignatures(text, keys).then(function (found) {
        var good = {}, bad = 0;
        found.forEach(function (r) { if (r.ok) { good[r.name] = true; } else { bad++; } });
        return { n: Object.keys(good).length, m: items.length, bad: bad };
      });
    });
  }

  /**
   * Verify rows from the log's tiles: the latest checkpoint (office key, witnesses), the
   * tree's root from its tiles, each row's entry from its bundle, the notice's own
   * checkpoint and the one this browser saw last as prefixes of the tree.  `headline`
   * makes the result's first words from {good, bad, total, ok}.
   */
  function runTiles(rows, headline) {
    var table = document.getElementById("lines");
    var log = table.getAttribute("data-log");
    var cells = rows.map(function (r) { return r.querySelector(".check"); });
    var total = rows.length, good = 0, bad = 0, step = Math.max(1, Math.ceil(total / 10));
    var checks = [], keys, page, latest, tree, ok = true;
    busy(true);
    setState("verifying", 0);
    if (UI.alert) { UI.alert.textContent = ""; UI.alert.hidden = true; }
    showProgress(w("tiles_verifying") + "\u2026 0/" + total);
    cells.forEach(function (c) { if (c) { c.textContent = ""; c.className = "check"; } });
    var witnessed = checkWitnesses(pageNote());
    var office = document.getElementById("issuing-office");
    office = office && office.textContent.trim() || w("tiles_office");

    function check(good_, text) { checks.push({ ok: good_, text: text }); if (!good_) ok = false; }

    // Another history than the one this browser (or the notice) saw: a line found in
    // this tree proves nothing, so no line is shown as verified.
    function distrust() {
      cells.forEach(function (c) { if (c) mark(c, false, w("tiles_fork_mark")); });
      good = 0;
    }

    return pageKeys().then(function (k) {
      keys = k;
      return Promise.all([openCheckpoint(pageNote(), keys),
        limited("/logs/" + encodeURIComponent(log) + "/checkpoint", "text")]);
    }).then(function (got) {
      page = got[0];
      return openCheckpoint(got[1], keys);
    }).then(function (cp) {
      latest = cp;
      if (latest.origin !== page.origin) throw failW("tiles_origin_bad");
      if (latest.size < page.size) {  // the log shows less than the notice was signed on
        alarm(w("tiles_notice_alert"));
        throw failW("tiles_older");
      }
      var signer = latest.signers[0];
      check(true, w("tiles_check_signature", { size: latest.size, office: office,
        key: signer.name, id: hex8(signer.id) }));
      tree = new TileTree(log, latest.size, latest.root);
      // The marks are drawn once all lines are checked: a mark drawn as each line is
      // done makes the browser lay the whole table out again after every response (a
      // 20,000-line table: a second each time).
      var lines = Promise.all(rows.map(function (row) {
        return tree.line(Number(row.getAttribute("data-index"))).then(function () {
          good++;
          return null;
        }, function (e) {
          bad++;
          return failText(e);
        }).then(function (why) {
          if ((good + bad) % step === 0 && good + bad < total) {
            showProgress(w("tiles_verifying") + "\u2026 " + (good + bad) + "/" + total);
          }
          return why;
        });
      })).then(function (whys) {
        whys.forEach(function (why, i) { if (cells[i]) mark(cells[i], why === null, why); });
      });
      var cosigned = latest.text === page.text ? Promise.resolve(null)
        : latestCosignatures(latest.text);
      return Promise.all([witnessed, cosigned, tree.checkRoot().then(function () { return true; },
        function (e) { return e; }), lines]);
    }).then(function (got) {
      var wt = got[0], lc = got[1], rooted = got[2];
      if (wt) {
        var text = wt.text;
        if (lc) {
          text += "; " + w("tiles_witness_latest", lc);
          if (lc.bad) text += "; " + w("tiles_witness_latest_bad", lc);
        }
        check(wt.ok && !(lc && lc.bad), text);
      }
      if (rooted !== true) {
        check(false, w("tiles_tree_bad"));
        return null;
      }
      if (bad) {
        check(false, w("tiles_check_lines_bad", { bad: bad }));
      } else {
        check(true, total === 1
          ? w("tiles_check_line", { index: rows[0].getAttribute("data-index") })
          : w("tiles_check_lines", { n: total }));
      }
      return Promise.all([tree.extends(page.size, page.root).then(null, function (e) { return e; }),
        compareSeen(tree, latest)]);
    }).then(function (got) {
      if (!got) return;
      var grew = got[0] === true;
      if (grew) {
        check(true, w("tiles_check_notice", { size: page.size }));
      } else {
        check(false, w("tiles_check_notice_bad", { size: page.size }));
        if (got[0] === false) alarm(w("tiles_notice_alert"));
        distrust();  // not shown to extend the notice's tree: no line is proven
      }
      var seen = got[1];
      var vars = { size: latest.size, old: seen.old ? seen.old.size : 0, why: seen.why };
      if (seen.kind === "fork") {
        check(false, w("tiles_check_seen_fork", vars));
        alarm(w("tiles_fork_alert", { old: seen.old.size, oldroot: hex(seen.old.root),
          size: latest.size, root: hex(latest.root) }));
        distrust();
      } else if (seen.kind === "unchecked") {
        check(false, w("tiles_check_seen_unchecked", vars));
      } else {
        check(true, w("tiles_check_seen_" + seen.kind, vars));
        // Only a checkpoint proven to extend the notice's and the last one seen replaces it.
        if (grew) writeSeen(latest);
      }
    }).then(null, function (e) {
      // The checkpoint itself failed: no line can be shown to be in the log.
      check(false, w("tiles_check_signature_bad", { why: failText(e) }));
      cells.forEach(function (c) { if (c) mark(c, false, failText(e)); });
      bad = total - good;
      return witnessed;
    }).then(function () {
      ok = ok && bad === 0;
      showResult(headline({ good: good, bad: bad, total: total, ok: ok }), ok, checks);
      setState(ok ? "verified" : "failed", good);
      busy(false);
      return ok;
    });
  }

  function runAll() {
    var table = document.getElementById("lines");
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tr[data-index]"));
    if (/(^|[?&])verify=per-line(&|$)/.test(window.location.search.slice(1))) {
      return runPerLine(rows);
    }
    return runTiles(rows, function (r) {
      return r.ok ? w("tiles_all_ok", r) : r.bad ? w("tiles_all_bad", r) : w("tiles_failed");
    });
  }

  // -- one candidate's own line -------------------------------------------------------------

  function normalise(text) { return text.replace(/\s+/g, "").toUpperCase(); }

  /** Whether the registration number as shown (maybe masked with *) fits what was typed. */
  function sameRegistration(shown, typed) {
    shown = normalise(shown);
    if (shown.indexOf("*") < 0) return shown === typed;
    if (shown.length !== typed.length) return false;
    for (var i = 0; i < shown.length; i++) {
      if (shown[i] !== "*" && shown[i] !== typed[i]) return false;
    }
    return true;
  }

  function findMine(event) {
    event.preventDefault();
    var typed = normalise(UI.findInput.value);
    UI.findStatus.textContent = "";
    if (!typed) { UI.findStatus.textContent = w("tiles_find_empty"); return; }
    var rows = Array.prototype.slice.call(document.querySelectorAll("#lines tr[data-index]"))
      .filter(function (row) {
        var cell = row.querySelector("td[data-col='registration']");
        return cell && sameRegistration(cell.textContent, typed);
      });
    if (!rows.length) {
      UI.findStatus.textContent = w("tiles_find_none", { reg: UI.findInput.value.trim() });
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("#lines tr.mine"), function (r) {
      r.classList.remove("mine");
    });
    rows.forEach(function (r) { r.classList.add("mine"); });
    var row = rows[0];
    row.tabIndex = -1;
    row.scrollIntoView({ block: "center" });
    row.focus({ preventScroll: true });
    var reg = row.querySelector("td[data-col='registration']").textContent.trim();
    var index = row.getAttribute("data-index");
    return runTiles(rows, function (r) {
      return w(r.ok ? "tiles_find_ok" : "tiles_find_bad", { reg: reg, index: index });
    });
  }

  // -- setting the page up ------------------------------------------------------------------

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  /** Put the verification controls and their result above the list (a long list would
   *  push them out of sight), with the lookup of one's own line. */
  function buildPanel(button, summary) {
    var table = document.getElementById("lines");
    var wrap = table.closest(".table-wrap") || table;
    var panel = el("div", { id: "verify-panel", "class": "verify-panel no-print" });
    if (table.querySelector("td[data-col='registration']")) {
      var form = el("form", { id: "find-form", role: "search" });
      form.appendChild(el("label", { "for": "find-registration" }, w("tiles_find_label")));
      var input = el("input", { id: "find-registration", type: "text", autocomplete: "off",
        spellcheck: "false", "aria-describedby": "find-hint find-status" });
      var go = el("button", { type: "submit", id: "find-verify" }, w("tiles_find_button"));
      form.appendChild(input);
      form.appendChild(document.createTextNode(" "));
      form.appendChild(go);
      form.appendChild(el("p", { id: "find-hint", "class": "hint" }, w("tiles_find_hint")));
      form.appendChild(el("p", { id: "find-status", "class": "error", role: "status" }));
      form.addEventListener("submit", findMine);
      panel.appendChild(form);
      UI.findInput = input;
      UI.findButton = go;
      UI.findStatus = form.querySelector("#find-status");
    }
    var holder = button.parentNode;
    panel.appendChild(holder);
    // The summary becomes a block (a headline and a list of checks), still the one polite
    // live region that announces the outcome.
    var box = el("div", { id: "verify-summary", role: "status", "aria-live": "polite" });
    summary.parentNode.replaceChild(box, summary);
    panel.appendChild(box);
    var alertBox = el("div", { id: "verify-alert", role: "alert", "class": "alert" });
    alertBox.hidden = true;
    panel.appendChild(alertBox);
    wrap.parentNode.insertBefore(panel, wrap);
    UI.summary = box;
    UI.alert = alertBox;
  }

  function init() {
    var button = document.getElementById("verify-all");
    var summary = document.getElementById("verify-summary");
    UI.main = document.querySelector("main");
    if (!button || !summary || !UI.main) return;
    setState("pending", 0);
    UI.button = button;
    UI.summary = summary;
    if (!window.crypto || !crypto.subtle || !window.fetch) {
      summary.textContent = say("此浏览器不支持验证", "This browser cannot verify (no WebCrypto)");
      return;
    }
    var ready = loadWords().then(function () {
      if (document.getElementById("lines")) buildPanel(button, summary);
    }, function (e) {
      summary.textContent = failText(e);
      throw e;
    });
    // A <button> is focusable and fires "click" on Enter and Space.
    button.addEventListener("click", function () { ready.then(runAll); });
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
    openCosignatures: openCosignatures,
    encodeIndex: encodeIndex,
    TileTree: TileTree
  };
})();
