#!/usr/bin/env python3
"""Fails when the modules of a workspace crate depend on each other in a cycle.

Why: the crates are meant to read top-down (endpoints → ingest → processing/forwarding →
store/upstream/projects/outcomes → utilities). A cycle between modules is how that shape
erodes unnoticed, so the test command runs this check on every crate of the workspace.

How: every `use crate::…`, `use super::…`, `use self::…` tree and every inline
`crate::…`/`super::…` path of a crate's `src/` is resolved to the module it names. Test code is left out: `#[cfg(test)]` modules (inline `mod
tests { … }` blocks and test-only module files such as a shared test-utilities module) depend on
whatever they exercise by design, and the rule is about the production graph. Then, for
every module M, its direct child modules are the nodes of one graph; a reference from anywhere
inside child A to anywhere inside child B is an edge A → B. Each of these graphs must be
acyclic: siblings may not use each other in a circle, at any depth. What a parent module
defines itself (often a façade re-exporting its children, or the types its children share) is
not a node: a parent and its own children belong together.

Usage: scripts/check-module-cycles.py [CRATE_DIR ...]   (default: every workspace member)
Exit status 1 and one line per cycle when any cycle exists.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent

LINE_COMMENT = re.compile(r"//[^\n]*")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
RAW_STRING = re.compile(r'r(#*)".*?"\1', re.S)
USE_STATEMENT = re.compile(r"\buse\s+((?:crate|super|self)\b[^;]*);")
INLINE_PATH = re.compile(r"\b(crate|super|self)((?:\s*::\s*(?:super|\w+))+)")
INLINE_MOD = re.compile(r"\bmod\s+(\w+)\s*\{")
TEST_MODULE_BLOCK = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+\w+\s*\{")
TEST_MODULE_FILE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;")


def strip_test_blocks(text: str) -> str:
    """Source without the bodies of inline `#[cfg(test)] mod name { … }` blocks."""
    while True:
        match = TEST_MODULE_BLOCK.search(text)
        if not match:
            return text
        depth, index = 1, match.end()
        while index < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        text = text[: match.start()] + text[index:]


def strip_code(text: str) -> str:
    """Source without comments and string literals, so paths in them are not counted."""
    text = RAW_STRING.sub('""', text)
    text = STRING.sub('""', text)
    text = BLOCK_COMMENT.sub("", text)
    return LINE_COMMENT.sub("", text)


def expand_use_tree(tree: str) -> list[list[str]]:
    """`a::{b, c::{d, e}}` → [[a, b], [a, c, d], [a, c, e]] (aliases and globs dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    paths: list[list[str]] = []

    def walk(text: str, prefix: list[str]) -> None:
        brace = text.find("{")
        if brace == -1:
            segments = [s for s in text.split("::") if s and s != "*"]
            paths.append(prefix + segments)
            return
        head = [s for s in text[:brace].split("::") if s]
        inner = text[brace + 1 : text.rfind("}")]
        depth, start = 0, 0
        for index, char in enumerate(inner + ","):
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            elif char == "," and depth == 0:
                part = inner[start:index]
                start = index + 1
                if part:
                    walk(part, prefix + head)
        if not inner:
            paths.append(prefix + head)

    walk(tree, [])
    return paths


def module_path_of(src: pathlib.Path, file: pathlib.Path) -> tuple[str, ...]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def resolve(path: list[str], current: tuple[str, ...], modules: set[tuple[str, ...]]):
    """The longest known module that a `crate::`/`super::`/`self::` path names."""
    if not path:
        return None
    if path[0] == "crate":
        base: list[str] = []
        rest = path[1:]
    else:
        base = list(current)
        rest = path
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                if not base:
                    return None
                base.pop()
            rest = rest[1:]
    target = tuple(base)
    for segment in rest:
        candidate = target + (segment,)
        if candidate in modules:
            target = candidate
        else:
            break
    return target


def references_of(crate_dir: pathlib.Path):
    """(module, referenced module) pairs and the set of modules of one crate."""
    src = crate_dir / "src"
    files = sorted(src.rglob("*.rs"))
    modules: set[tuple[str, ...]] = set()
    test_only: set[tuple[str, ...]] = set()
    texts = {}
    for file in files:
        module = module_path_of(src, file)
        text = strip_code(file.read_text())
        for name in TEST_MODULE_FILE.findall(text):
            test_only.add(module + (name,))
        text = strip_test_blocks(text)
        texts[file] = (module, text)
        modules.add(module)
        # Inline `mod name { … }` blocks (mostly `mod tests`) count as modules of the file.
        for name in INLINE_MOD.findall(text):
            modules.add(module + (name,))
    def is_test_only(module):
        return any(module[: len(test)] == test for test in test_only)

    texts = {file: entry for file, entry in texts.items() if not is_test_only(entry[0])}
    modules = {module for module in modules if not is_test_only(module)}
    edges = []
    for file, (module, text) in texts.items():
        for use in USE_STATEMENT.findall(text):
            for path in expand_use_tree(use):
                target = resolve(path, module, modules)
                if target is not None:
                    edges.append((module, target, file))
        without_uses = USE_STATEMENT.sub("", text)
        for head, tail in INLINE_PATH.findall(without_uses):
            path = [head] + [s.strip() for s in tail.split("::") if s.strip()]
            if head == "self" and len(path) < 2:
                continue
            target = resolve(path, module, modules)
            if target is not None:
                edges.append((module, target, file))
    return modules, edges


def find_cycles(nodes, edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    graph = {node: sorted({b for a, b in edges if a == node}) for node in nodes}

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in nodes:
        if node not in index:
            connect(node)
    return result


def check_crate(crate_dir: pathlib.Path) -> list[str]:
    modules, edges = references_of(crate_dir)
    problems = []
    for parent in sorted(modules):
        children = sorted(m for m in modules if len(m) == len(parent) + 1 and m[: len(parent)] == parent)
        if not children:
            continue

        def node_of(module):
            if module[: len(parent)] != parent:
                return None
            if len(module) == len(parent):
                return None
            return module[len(parent)]

        level_edges = {}
        for source, target, file in edges:
            a, b = node_of(source), node_of(target)
            if a is None or b is None or a == b:
                continue
            level_edges.setdefault((a, b), file)
        nodes = [child[-1] for child in children]
        for component in find_cycles(nodes, level_edges.keys()):
            where = "::".join(("crate",) + parent)
            links = [
                f"{a} -> {b} ({level_edges[(a, b)].relative_to(crate_dir)})"
                for (a, b) in sorted(level_edges)
                if a in component and b in component
            ]
            problems.append(
                f"{crate_dir.name}: cycle among the modules of {where}: {', '.join(component)}\n    "
                + "\n    ".join(links)
            )
    return problems


def workspace_members() -> list[pathlib.Path]:
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return [ROOT / member for member in manifest["workspace"]["members"]]


def main() -> int:
    crates = [pathlib.Path(arg).resolve() for arg in sys.argv[1:]] or workspace_members()
    problems = [problem for crate in crates for problem in check_crate(crate)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} module cycle(s); see scripts/check-module-cycles.py for the rule")
        return 1
    print(f"no module cycles in {len(crates)} crate(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
