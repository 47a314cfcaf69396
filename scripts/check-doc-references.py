#!/usr/bin/env python3
"""Fails when a code comment cites a reference document or section that does not exist.

Why: the behaviour this relay reproduces (Sentry's Relay 26.9.0) is described section by
section in the documents of `docs/reference/`, and code comments point there, for example
`processing.md §7.3`, `` `http-api.md` §3.3–§3.5 ``, `config.md §1, §1.2, §5` or a bare
`outcomes.md`. A reader of the repository must be able to follow every such citation, so a
citation that names a missing document, or a section number that has no heading in the cited
document, is an error — whether the comment or the document was edited last.

What counts as a citation: in every `*.rs` file of the workspace members (`relay-*/` and
`fuzz/`, and the members and excludes of the root `Cargo.toml`; `target/` is skipped), a
lowercase `<name>.md`, optionally written as `docs/reference/<name>.md` and optionally in
backticks, followed by zero or more section numbers: `§N` or `§N.M…` (a letter suffix such as
`§3.2a` is allowed), joined by `,`, `;`, `and`, `or`, `to` or a dash (`§7.4–§7.6`, where both ends
are checked). When the document name ends a comment line, the section list may continue at
the start of the next comment line. Without a section number only the document must exist.

What resolves a citation: the file `docs/reference/<name>.md` exists and, for every cited
section number, it has a heading line `^#+ <number> ` — the number, then a space. `§4` needs a
heading `4 `, `§4.7` needs `4.7 `; a parent heading never satisfies a subsection.

A `§N` with no document name before it (a relative citation such as "(§4.4)") is not checked;
`--orphans` lists them for review.

Usage: scripts/check-doc-references.py [--orphans]
Exit status 0 with one summary line when every citation resolves; 1 with one line per
unresolved citation (`file:line: citation: reason`) otherwise.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "reference"

SECTION = r"(\d+(?:\.\d+)*[a-z]?)"
# `processing.md`, `docs/reference/processing.md`, `../docs/reference/processing.md`;
# not `other/dir/x.md` nor `README.md`.
DOC_NAME = re.compile(r"(?<![\w./-])(?:(?:\.\./)*docs/reference/)?([a-z0-9][a-z0-9_-]*)\.md\b`?")
FIRST_SECTION = re.compile(r"\s*§" + SECTION)
NEXT_SECTION = re.compile(r"\s*(,|;|and|or|to|–|—|-)\s*§" + SECTION)
HEADING = re.compile(r"^#+ " + SECTION + r" ")
COMMENT_LEAD = re.compile(r"^\s*(?://[/!]?|\*)\s?")
ANY_SECTION = re.compile(r"§" + SECTION)


def member_dirs() -> list[pathlib.Path]:
    """The directories of the workspace members (and of the excluded fuzz crate)."""
    names = {p.name for p in ROOT.glob("relay-*") if p.is_dir()}
    if (ROOT / "fuzz").is_dir():
        names.add("fuzz")
    manifest = ROOT / "Cargo.toml"
    if manifest.is_file():
        workspace = tomllib.loads(manifest.read_text()).get("workspace", {})
        for pattern in workspace.get("members", []) + workspace.get("exclude", []):
            names.update(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if p.is_dir())
    return [ROOT / name for name in sorted(names)]


def rust_files() -> list[pathlib.Path]:
    files = set()
    for directory in member_dirs():
        for path in directory.rglob("*.rs"):
            if "target" not in path.relative_to(ROOT).parts:
                files.add(path)
    return sorted(files)


def headings(doc: pathlib.Path) -> set[str]:
    numbers = set()
    in_fence = False
    for line in doc.read_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            numbers.add(match.group(1))
    return numbers


def citations(path: pathlib.Path):
    """Yields (line number, document, [sections], text) per citation, and orphan `§` uses."""
    lines = path.read_text(errors="replace").splitlines()
    consumed: dict[int, list[tuple[int, int]]] = {}
    found = []
    for index, line in enumerate(lines):
        for match in DOC_NAME.finditer(line):
            doc = match.group(1)
            text_index, rest, offset = index, line[match.end():], match.end()
            if not rest.strip() and index + 1 < len(lines):
                lead = COMMENT_LEAD.match(lines[index + 1])
                if lead and line.lstrip().startswith(("//", "*")):
                    text_index, rest, offset = index + 1, lines[index + 1][lead.end():], lead.end()
            sections = []
            position = 0
            first = FIRST_SECTION.match(rest)
            if first:
                sections.append(first.group(1))
                position = first.end()
                while (more := NEXT_SECTION.match(rest, position)):
                    sections.append(more.group(2))
                    position = more.end()
                consumed.setdefault(text_index, []).append((offset, offset + position))
            cited = match.group(0).rstrip("`") + (" " + rest[:position].strip() if sections else "")
            found.append((index + 1, doc, sections, cited))
    orphans = []
    for index, line in enumerate(lines):
        for match in ANY_SECTION.finditer(line):
            spans = consumed.get(index, [])
            if not any(start <= match.start() < end for start, end in spans):
                orphans.append((index + 1, match.group(0), line.strip()))
    return found, orphans


def main() -> int:
    show_orphans = "--orphans" in sys.argv[1:]
    known = {doc.stem: headings(doc) for doc in DOCS.glob("*.md") if doc.name != "README.md"}
    errors, resolved, documents, orphan_lines = [], 0, set(), []
    for path in rust_files():
        relative = path.relative_to(ROOT)
        found, orphans = citations(path)
        for line, doc, sections, text in found:
            where = f"{relative}:{line}: {text}"
            if doc not in known:
                errors.append(f"{where}: no document docs/reference/{doc}.md")
                continue
            missing = [s for s in sections if s not in known[doc]]
            if missing:
                listed = ", ".join("§" + s for s in missing)
                errors.append(f"{where}: no heading for {listed} in docs/reference/{doc}.md")
                continue
            resolved += 1
            documents.add(doc)
        orphan_lines.extend(f"{relative}:{line}: {mark}: {text}" for line, mark, text in orphans)
    if show_orphans:
        print("\n".join(orphan_lines) or "no section citations without a document name")
    if errors:
        print("\n".join(errors))
        print(f"{len(errors)} citations do not resolve", file=sys.stderr)
        return 1
    print(f"{resolved} citations of {len(documents)} documents resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
