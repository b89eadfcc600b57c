#!/usr/bin/env python3
"""layers.py: checks the code's layering and function length (ctest lint.layers).

usage: tests/tools/layers.py [ROOT]
       tests/tools/layers.py --selftest   (the check finds what it must, on a made-up tree)

1. Includes. Every include of ferry's own headers names its directory
   ("store/client.h"), and a file may include only its own layer and the
   layers below it (LAYERS, the table of docs/architecture.md "The layers";
   CMakeLists.txt declares the same as link dependencies). The libraries of
   the system (<librdkafka/...>, <curl/...>) are each used by the layers
   EXTERNAL names. A service (lister/, worker/, reporter/, devbroker/) may
   include any layer and its own directory, never another service.
2. Length. No function in lib/ or a service is longer than MAX_LINES lines
   (from its first line to its closing brace), except those listed in
   tests/tools/layers-allow.txt; a listed function that is short again must
   leave the list.

Prints one line per problem (FILE:LINE: what) and exits 1 when there is any.
"""
import os
import re
import sys

MAX_LINES = 120

# layer -> the layers it uses directly (docs/architecture.md); the check
# allows the transitive closure, as linking does.
LAYERS = {
    "core": [],
    "model": ["core"],
    "store": ["core"],
    "web": ["core"],
    "bus": ["model"],
    "policy": ["model", "store"],
    "xfer": ["model", "store", "web", "policy"],
    "plan": ["model", "store", "policy"],
    "report": ["bus", "web"],
    "conf": ["bus", "xfer", "store", "policy"],
}
SERVICES = ["lister", "worker", "reporter", "devbroker"]

# An outside library's headers -> the layers that may include them.
EXTERNAL = {
    "librdkafka/": {"bus"},
    "libconfig.h": {"conf"},
    "microhttpd.h": {"web"},
    "curl/": {"store", "xfer"},
    "expat.h": {"store"},
    "isa-l/": {"core"},
    "openssl/": {"core", "store", "xfer", "report"},
    "jansson.h": {"web", "bus", "plan", "report"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def closure(layer, seen=None):
    seen = set() if seen is None else seen
    for d in LAYERS[layer]:
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen


def sources(root):
    for top in ["lib"] + SERVICES:
        base = os.path.join(root, top)
        for dirpath, _, files in os.walk(base):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def owner(rel):
    """(kind, name): ("lib", layer) or ("svc", service)."""
    parts = rel.split(os.sep)
    if parts[0] == "lib":
        return "lib", parts[1]
    return "svc", parts[0]


def check_includes(root, rel, lines, problems):
    kind, name = owner(rel)
    if kind == "lib" and name not in LAYERS:
        problems.append(f"{rel}:1: directory lib/{name} is not a layer of tests/tools/layers.py")
        return
    allowed = ({name} | closure(name)) if kind == "lib" else set(LAYERS) | {name}
    for no, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        quote, path = m.groups()
        if quote == '"':
            if "/" not in path:
                problems.append(f'{rel}:{no}: include "{path}" without its directory '
                                f'(write "dir/file.h")')
                continue
            top = path.split("/")[0]
            if top not in allowed:
                what = f"layer {top}" if top in LAYERS else f"{top}/"
                problems.append(f'{rel}:{no}: include "{path}" runs against the layers: '
                                f'{rel.split(os.sep)[0]}/{name if kind == "lib" else ""} '
                                f'may not use {what}'.replace("/ may", " may"))
            continue
        if kind != "lib":
            continue
        for pfx, users in EXTERNAL.items():
            if path.startswith(pfx) and name not in users:
                problems.append(f"{rel}:{no}: include <{path}>: only "
                                f"{', '.join(sorted(users))} may use it")


FUNC_HEAD = re.compile(r"^[A-Za-z_][A-Za-z0-9_ \t\*]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(lines):
    """Yields (name, first line, length) of every function definition: a
    head at column 0 with '(' and no '=' or ';' before its '{', and a body
    closed by '}' at column 0 (the project's format)."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        m = FUNC_HEAD.match(line)
        if not m or line.startswith(("typedef", "struct", "enum", "union")) or "=" in line.split("(")[0]:
            i += 1
            continue
        j = i
        while j < n and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= n or "{" not in lines[j] or lines[j].rstrip().endswith(";"):
            i = j + 1
            continue
        if lines[j].count("{") == lines[j].count("}"):  # one line: f(void) { ... }
            yield m.group(1), i + 1, j - i + 1
            i = j + 1
            continue
        k = j + 1
        while k < n and lines[k].rstrip() != "}":
            k += 1
        yield m.group(1), i + 1, k - i + 1
        i = k + 1


def load_allow(root):
    path = os.path.join(root, "tests", "tools", "layers-allow.txt")
    allow = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if line:
                    allow[line] = no
    return allow


def check(root):
    """Every problem of the tree at root, one line each."""
    problems = []
    allow = load_allow(root)
    used = set()
    for rel in sources(root):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        check_includes(root, rel, lines, problems)
        if not rel.endswith(".c"):
            continue
        for name, first, length in functions(lines):
            if length <= MAX_LINES:
                continue
            key = f"{rel}:{name}"
            if key in allow:
                used.add(key)
                continue
            problems.append(f"{rel}:{first}: function {name} is {length} lines "
                            f"(at most {MAX_LINES}): split it")
    for key, no in sorted(allow.items(), key=lambda kv: kv[1]):
        if key not in used:
            problems.append(f"tests/tools/layers-allow.txt:{no}: {key} is no longer "
                            f"over {MAX_LINES} lines (or gone): remove it from the list")
    return problems


def selftest():
    """A tree with one of each fault, and a clean one: each fault is found."""
    import tempfile
    body = "int f(void) {\n" + "  x++;\n" * 130 + "}\n"
    files = {
        "lib/core/a.c": '#include "conf/config.h"\n',           # upward include
        "lib/store/b.c": "#include <librdkafka/rdkafka.h>\n",    # outside library
        "lib/bus/c.c": '#include "c.h"\n',                       # no directory
        "lister/d.c": '#include "worker/worker.h"\n',            # another service
        "lib/xfer/e.c": body,                                     # too long
        "lib/model/ok.c": '#include "core/ferry.h"\nint g(void) { return 0; }\n',
        "tests/tools/layers-allow.txt": "lib/plan/gone.c:h\n",   # stale entry
    }
    want = ["lib/core/a.c:1: include \"conf/config.h\" runs against the layers",
            "lib/store/b.c:1: include <librdkafka/rdkafka.h>",
            "lib/bus/c.c:1: include \"c.h\" without its directory",
            "lister/d.c:1: include \"worker/worker.h\" runs against the layers",
            "lib/xfer/e.c:1: function f is 132 lines",
            "tests/tools/layers-allow.txt:1: lib/plan/gone.c:h is no longer"]
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)
        got = check(root)
    missing = [w for w in want if not any(g.startswith(w) for g in got)]
    extra = [g for g in got if not any(g.startswith(w) for w in want)]
    for m in missing:
        print(f"selftest: not found: {m}")
    for e in extra:
        print(f"selftest: unexpected: {e}")
    print(f"layers.py --selftest: {'ok' if not missing and not extra else 'FAILED'}")
    return 1 if missing or extra else 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    problems = check(root)
    for p in problems:
        print(p)
    print(f"layers.py: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
