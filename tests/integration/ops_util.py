#!/usr/bin/env python3
"""Helpers of the operator-feature tests (tests/integration/lister_ops.sh, ...).

  ops_util.py put ENDPOINT BUCKET KEY SIZE [SEED]
      anonymous PUT of SIZE bytes (s3rver accepts it); SEED varies the bytes.
  ops_util.py fill ENDPOINT BUCKET PREFIX N [--odd] [--big] > keys.txt
      PUTs N small objects under PREFIX (anonymous, s3rver accepts it), plus
      keys with odd characters when --odd, plus 12 objects of 300-700 KiB and
      one of 1.5 MiB when --big; prints every key written (one JSON string per
      line, so keys holding newlines stay one line). 8 at a time, each PUT
      tried 3 times.
  ops_util.py delete ENDPOINT BUCKET KEY
  ops_util.py csv FILE COLUMN [WHERE_COLUMN=VALUE]
      prints COLUMN of every row (one JSON string per line, sorted).
  ops_util.py count FILE [WHERE_COLUMN=VALUE]
      number of rows.
  ops_util.py expect PREFIX "REL_KEY ..." FILE:KIND...
      each FILE holds exactly the keys PREFIX + REL_KEY: KIND "seg" for
      segments (JSON lines), "csv" for a CSV key column, "missing" for the
      key column of a --verify report's missing rows.
  ops_util.py segkeys SEGMENTS_JSONL [FIELD]
      every object's key (or FIELD) across the segments, one JSON string per
      line, sorted; "policy" prints each segment's policy.

Exit status 1 with a one-line FAIL message on an error.
"""
import concurrent.futures
import csv
import http.client
import json
import sys
import threading
import urllib.parse


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def conn(endpoint):
    u = urllib.parse.urlparse(endpoint)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def path(bucket, key):
    return "/" + bucket + "/" + urllib.parse.quote(key, safe="/~")


def body(size, seed):
    pat = f"{seed}:".encode() * (size // max(1, len(f"{seed}:")) + 1)
    return pat[:size]


def req(c, method, p, data=None, headers=None):
    c.request(method, p, body=data, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


def put(endpoint, bucket, key, size, seed):
    st, b = req(conn(endpoint), "PUT", path(bucket, key), body(size, seed),
                {"Content-Type": "application/octet-stream"})
    if st != 200:
        fail(f"PUT {key}: HTTP {st} {b[:200]!r}")


# No control characters other than tab: s3rver ignores encoding-type=url (so
# raw \x01 breaks its XML), and its continuation token loses a "\n" (the
# key is listed twice).
ODD = [
    "with space.txt", "plus+sign.txt", "percent%20lit.txt", "hash#frag.txt",
    "q?mark&amp=1.txt", "tilde~quote'\"<>.txt", "unicode/数据/ファイル/файл-ü.txt",
    "emoji-😀.txt", "a/b/c/d/e/f/g/h/i/j/deep.txt", "semi;colon,comma=eq@at$dollar.txt",
    "back\\slash.txt", "tab\there.txt",
    "trailing-dot.", "caret^pipe|brace{}[]`.txt", "x" * 200 + "/" + "y" * 200 + ".bin",
]


def fill(endpoint, bucket, prefix, n, odd, big):
    u = urllib.parse.urlparse(endpoint)
    keys = [f"{prefix}obj/{i % 37:02d}/key-{i:06d}.bin" for i in range(n)]
    if odd:
        keys += [prefix + "odd/" + k for k in ODD]
    sizes = {}
    if big:
        for j in range(12):
            sizes[f"{prefix}obj/big-{j:02d}.bin"] = (300 + 37 * j) * 1024
        sizes[f"{prefix}obj/huge.bin"] = 1536 * 1024
        keys += sorted(sizes)
    local = threading.local()

    def put(item):
        i, k = item
        if k in sizes:
            body = bytes([i % 251]) * sizes[k]
        else:
            body = (f"{k}|{i}|" * (1 + i % 5)).encode()
        path = "/" + bucket + "/" + urllib.parse.quote(k, safe="/~")
        for _ in range(3):
            try:
                if not hasattr(local, "conn"):
                    local.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                local.conn.request("PUT", path, body=body,
                                   headers={"Content-Type": "application/octet-stream"})
                r = local.conn.getresponse()
                r.read()
                return k, r.status
            except (http.client.HTTPException, OSError):
                local.conn.close()
                del local.conn
        return k, 0

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        for k, status in ex.map(put, enumerate(keys)):
            if status != 200:
                fail(f"PUT {k!r}: HTTP {status}")
            print(json.dumps(k))


def delete(endpoint, bucket, key):
    st, b = req(conn(endpoint), "DELETE", path(bucket, key))
    if st not in (200, 204):
        fail(f"DELETE {key}: HTTP {st}")


def rows(path_, where):
    with open(path_, newline="", encoding="utf-8") as f:
        rs = list(csv.DictReader(f))
    if where:
        col, val = where.split("=", 1)
        rs = [r for r in rs if r.get(col) == val]
    return rs


def main():
    a = sys.argv[1:]
    if not a:
        fail("usage: see the docstring")
    cmd = a[0]
    if cmd == "put":
        put(a[1], a[2], a[3], int(a[4]), a[5] if len(a) > 5 else "x")
    elif cmd == "fill":
        fill(a[1], a[2], a[3], int(a[4]), "--odd" in a[5:], "--big" in a[5:])
    elif cmd == "delete":
        delete(a[1], a[2], a[3])
    elif cmd == "csv":
        for v in sorted(r[a[2]] for r in rows(a[1], a[3] if len(a) > 3 else None)):
            print(json.dumps(v, ensure_ascii=False))
    elif cmd == "count":
        print(len(rows(a[1], a[2] if len(a) > 2 else None)))
    elif cmd == "expect":
        want = sorted(a[1] + k for k in a[2].split())
        for spec in a[3:]:
            fpath, kind = spec.rsplit(":", 1)
            if kind == "seg":
                got = []
                with open(fpath, encoding="utf-8") as f:
                    for line in f:
                        if line.strip():
                            got += [o["key"] for o in json.loads(line)["objs"]]
            elif kind == "csv":
                got = [r["key"] for r in rows(fpath, None)]
            elif kind == "missing":
                got = [r["key"] for r in rows(fpath, "status=missing")]
            else:
                fail(f"unknown kind {kind}")
            if sorted(got) != want:
                fail(f"{fpath}: keys {sorted(got)} expected {want}")
    elif cmd == "segkeys":
        field = a[2] if len(a) > 2 else "key"
        out = []
        with open(a[1], encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                s = json.loads(line)
                if field == "policy":
                    out.append(s["policy"])
                else:
                    out += [o.get(field) for o in s["objs"]]
        for v in sorted(out, key=lambda x: (x is None, x or "")):
            print(json.dumps(v, ensure_ascii=False))
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
