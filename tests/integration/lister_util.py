#!/usr/bin/env python3
"""Helpers of the lister's integration tests (tests/integration/lister_*.sh).

  lister_util.py fill ENDPOINT BUCKET PREFIX N [--odd] [--big] > keys.txt
      ops_util.py's fill (the one bucket filler of these tests), for the
      scripts that call it here.
  lister_util.py check SEGMENTS_JSONL KEYS_FILE MAX_OBJECTS MAX_BYTES [RUN]
      every key exactly once across the segments, every segment within the
      limits (a single larger object alone), ids unique, run as given.
  lister_util.py resume SEGMENTS_JSONL KEYS_FILE CHECKPOINT MAX_DUP_OBJECTS
      after a kill and a resume: every key present; a segment id seen twice has
      the same content both times; duplicated keys all sort after CHECKPOINT
      and number at most MAX_DUP_OBJECTS.
  lister_util.py task TASKS_LINES TASK
      prints the latest task record of TASK (kcat -f '%k\\t%s\\n' output) as
      "run state listed_objects listed_bytes segments kind retry_of checkpoint".

  lister_util.py results SEGMENTS_JSONL [KEY=STATUS:REASON ...]
      prints a worker-shaped result record per segment (kcat -K '|' input:
      "task|json"): every object copied, but the KEYs given, which end with
      that STATUS (failed, vanished, ...) and REASON. Copies are listed in
      the outcomes for runs after 1, as the worker does.

Exit status 1 with a one-line FAIL message on any mismatch.
"""
import json
import sys

from ops_util import fill


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def load_keys(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_segments(path):
    segs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                segs.append(json.loads(line))
    return segs


def check(seg_path, keys_path, max_objects, max_bytes, run=None):
    keys = load_keys(keys_path)
    segs = load_segments(seg_path)
    seen = {}
    ids = set()
    for s in segs:
        if s["id"] in ids:
            fail(f"segment id {s['id']} twice")
        ids.add(s["id"])
        if run is not None and s["run"] != run:
            fail(f"segment {s['id']}: run {s['run']}, expected {run}")
        objs = s["objs"]
        if not objs:
            fail(f"segment {s['id']} is empty")
        if len(objs) > max_objects:
            fail(f"segment {s['id']}: {len(objs)} objects > {max_objects}")
        total = sum(o["size"] for o in objs)
        if max_bytes and total > max_bytes and len(objs) > 1:
            fail(f"segment {s['id']}: {total} bytes > {max_bytes} with {len(objs)} objects")
        for o in objs:
            seen[o["key"]] = seen.get(o["key"], 0) + 1
    dup = [k for k, c in seen.items() if c > 1]
    if dup:
        fail(f"{len(dup)} key(s) listed more than once, e.g. {dup[0]!r}")
    missing = [k for k in keys if k not in seen]
    if missing:
        fail(f"{len(missing)} key(s) missing, e.g. {missing[0]!r}")
    extra = [k for k in seen if k not in set(keys)]
    if extra:
        fail(f"{len(extra)} unexpected key(s), e.g. {extra[0]!r}")
    print(f"ok: {len(keys)} keys exactly once in {len(segs)} segments "
          f"(<= {max_objects} objects, <= {max_bytes} bytes)")


def resume(seg_path, keys_path, checkpoint, max_dup):
    keys = load_keys(keys_path)
    segs = load_segments(seg_path)
    by_id = {}
    count = {}
    for s in segs:
        prev = by_id.get(s["id"])
        if prev is not None and prev["objs"] != s["objs"]:
            fail(f"segment {s['id']} republished with other objects")
        by_id[s["id"]] = s
        for o in s["objs"]:
            count[o["key"]] = count.get(o["key"], 0) + 1
    missing = [k for k in keys if k not in count]
    if missing:
        fail(f"{len(missing)} key(s) missing after the resume, e.g. {missing[0]!r}")
    cp = checkpoint.encode()
    dups = [k for k, c in count.items() if c > 1]
    early = [k for k in dups if k.encode() <= cp]
    if early:
        fail(f"{len(early)} key(s) at or before the checkpoint {checkpoint!r} "
             f"published twice, e.g. {early[0]!r}")
    if any(c > 2 for c in count.values()):
        fail("a key published more than twice")
    if len(dups) > max_dup:
        fail(f"{len(dups)} keys published twice > one checkpoint interval ({max_dup})")
    print(f"ok: {len(keys)} keys covered by {len(by_id)} distinct segments "
          f"({len(segs)} messages); {len(dups)} keys republished, all after the "
          f"checkpoint (bound {max_dup})")


def task(lines_path, name):
    last = None
    with open(lines_path, encoding="utf-8") as f:
        for line in f:
            if "\t" not in line:
                continue
            k, v = line.rstrip("\n").split("\t", 1)
            if k == name and v:
                last = json.loads(v)
    if last is None:
        fail(f"no task record for {name}")
    print(last["run"], last["state"], last["listed_objects"], last["listed_bytes"],
          last["segments"], last.get("kind", "list"), last.get("retry_of", 0),
          last.get("checkpoint", ""))


def results(seg_path, specs):
    fails = {}
    for spec in specs:
        key, _, st = spec.rpartition("=")
        status, _, reason = st.partition(":")
        fails[key] = (status, reason)
    for seg in load_segments(seg_path):
        outcomes, copied, nbytes = [], 0, 0
        for o in seg["objs"]:
            if o["key"] in fails:
                status, reason = fails[o["key"]]
                outcomes.append({"key": o["key"], "size": o["size"], "status": status,
                                 "reason": reason, "bytes": 0, "attempts": 3,
                                 "duration_ms": 5, "http_status": 503 if status == "failed" else 404})
            else:
                copied += 1
                nbytes += o["size"]
                if seg["run"] > 1:  # as the worker does: a retry may be undoing a failure
                    outcomes.append({"key": o["key"], "size": o["size"], "status": "copied",
                                     "bytes": o["size"], "attempts": 1, "duration_ms": 5,
                                     "http_status": 200})
        r = {"v": 1, "task": seg["task"], "segment": seg["id"], "run": seg["run"],
             "worker": "w-test", "n_objects": len(seg["objs"]), "n_copied": copied,
             "n_skipped": 0, "n_failed": len(seg["objs"]) - copied, "bytes": nbytes,
             "started_ms": 1705307412345, "finished_ms": 1705307419876, "outcomes": outcomes}
        print(seg["task"] + "|" + json.dumps(r, separators=(",", ":")))


def main():
    a = sys.argv[1:]
    if not a:
        fail("usage: see the docstring")
    if a[0] == "fill":
        fill(a[1], a[2], a[3], int(a[4]), "--odd" in a[5:], "--big" in a[5:])
    elif a[0] == "check":
        check(a[1], a[2], int(a[3]), int(a[4]), int(a[5]) if len(a) > 5 else None)
    elif a[0] == "resume":
        resume(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "task":
        task(a[1], a[2])
    elif a[0] == "results":
        results(a[1], a[2:])
    else:
        fail(f"unknown command {a[0]}")


if __name__ == "__main__":
    main()
