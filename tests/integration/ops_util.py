#!/usr/bin/env python3
"""Helpers of the operator-feature tests (tests/integration/lister_ops.sh, ...).

  ops_util.py put ENDPOINT BUCKET KEY SIZE [SEED]
      anonymous PUT of SIZE bytes (s3rver accepts it); SEED varies the bytes.
  ops_util.py fill ENDPOINT BUCKET PREFIX N [--odd] [--big] > keys.txt
      PUTs N small objects under PREFIX (anonymous, s3rver accepts it), plus
      keys with odd characters when --odd, plus 12 objects of 300-700 KiB and
      one of 1.5 MiB when --big; prints every key written (one JSON string per
      line, so keys holding newlines stay one line). Written by
      tests/tools/fill.js (seq, oddset, bigset), the tests' one filler.
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
import csv
import http.client
import json
import os
import subprocess
import sys
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


def fill(endpoint, bucket, prefix, n, odd, big):
    """The listing tests' dataset, written by tests/tools/fill.js (the one
    bucket filler of the tests); prints every key as a JSON string."""
    specs = [f"seq:{n}:{prefix}"]
    if odd:
        specs.append(f"oddset:{prefix}")
    if big:
        specs.append(f"bigset:{prefix}")
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fill.js")
    r = subprocess.run(["node", tool, endpoint, bucket, "--keys"] + specs,
                       stdout=subprocess.PIPE, check=False)
    if r.returncode != 0:
        fail(f"fill.js exited {r.returncode}")
    sys.stdout.write(r.stdout.decode())
    sys.stdout.flush()


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
