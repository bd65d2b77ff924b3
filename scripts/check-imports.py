#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Import cycles between the driver's Rust files.

Lists every file-to-file edge that a `crate::`, `super::` or `self::` path makes (in `use`
declarations and inline paths alike), resolved to the file of the longest module prefix,
and fails if the edges form a cycle. Test modules (`tests.rs` files and in-file
`mod tests`) are left out: a module's tests use the fakes of `pure/testing/`, which use the
module, by design. A second pass does the same for the sub-folders of `pure/` (bytes, hw,
stream, mig, dirty, ...), also without `pure/testing/`: STYLE.md wants those dependencies
one way.

  scripts/check-imports.py [-v]    -v prints the edges; exit 1 on a cycle
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "drivers", "vfio_ixgbevf_mig")
PATH_RE = re.compile(r"(?<![\w$])((?:crate|super|self)(?:::\w+)+)")
USE_RE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)
TESTS_RE = re.compile(r"\n#\[cfg\(test\)\]\nmod tests \{\n")


def modpath(rel):
    """Module path of a file relative to ROOT: main.rs -> (), a/mod.rs -> (a,), a/b.rs -> (a, b)."""
    parts = rel[:-3].split(os.sep)
    if parts == ["main"]:
        return ()
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def expand(use):
    """Paths named by one `use` tree, e.g. crate::a::{b, c::{d, e}} -> crate::a::b, ..."""
    use = re.sub(r"\s+", "", use)
    depth, start = 0, None
    for i, ch in enumerate(use):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix = use[:start]
                inner, parts, d, last = use[start + 1 : i], [], 0, 0
                for j, c in enumerate(inner):
                    d += c == "{"
                    d -= c == "}"
                    if c == "," and d == 0:
                        parts.append(inner[last:j])
                        last = j + 1
                parts.append(inner[last:])
                return [p for part in parts if part for p in expand(prefix + part)]
    return [re.sub(r"\bas\b.*", "", use).rstrip(":*")]


def resolve(path, here, mods):
    """The module (a key of `mods`) that `path`, written in module `here`, points into."""
    segs = path.split("::")
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    else:
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    best = base if base in mods else None
    for n in range(1, len(segs) + 1):
        if base + tuple(segs[:n]) in mods:
            best = base + tuple(segs[:n])
    return best


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    verbose = "-v" in sys.argv
    files = {}
    for d, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith(".rs") and not n.startswith("sys_generated"):
                rel = os.path.relpath(os.path.join(d, n), ROOT)
                files[modpath(rel)] = rel
    graph, sub = {}, {}
    for mod, rel in sorted(files.items()):
        text = open(os.path.join(ROOT, rel)).read()
        code = re.sub(r"//[^\n]*", "", text)
        m = TESTS_RE.search(code)
        test_from = m.start() if m else len(code)
        nontest = [p for u in USE_RE.findall(code[:test_from]) for p in expand(u)]
        nontest += PATH_RE.findall(USE_RE.sub("", code[:test_from]))
        for p in [] if rel.endswith("tests.rs") else nontest:
            dst = resolve(p, mod, files)
            if dst is not None and dst != mod:
                graph.setdefault(rel, set()).add(files[dst])
        is_test = rel.endswith("tests.rs") or rel.startswith(os.path.join("pure", "testing"))
        if rel.startswith("pure" + os.sep) and not is_test:
            for p in nontest:
                dst = resolve(p, mod, files)
                if dst and len(mod) > 1 and len(dst) > 1 and dst[0] == "pure" and dst[1] != mod[1]:
                    sub.setdefault(mod[1], set()).add(dst[1])
    nedges = sum(len(v) for v in graph.values())
    if verbose:
        for src in sorted(graph):
            for dst in sorted(graph[src]):
                print(f"{src} -> {dst}")
        for src in sorted(sub):
            print(f"pure/{src}/ -> " + ", ".join(f"pure/{d}/" for d in sorted(sub[src])))
    bad = cycles(graph)
    bad_sub = cycles(sub)
    for c in bad:
        print("import cycle between files: " + " <-> ".join(c))
    for c in bad_sub:
        print("import cycle between pure/ sub-folders: " + " <-> ".join(c))
    print(f"imports: {len(files)} files, {nedges} file edges, {len(bad)} file cycles; "
          f"{len(sub)} pure/ sub-folders with edges, {len(bad_sub)} sub-folder cycles")
    return 1 if bad or bad_sub else 0


if __name__ == "__main__":
    sys.exit(main())
