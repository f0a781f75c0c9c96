"""README.md and docs/*.md: every relative link reaches a file (and its heading), and the README stays short."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 8_000
"""A README that says what Wayfinder is, the two commands and a tour; the rest lives in docs/."""
PENDING: set[str] = set()
"""Pages being written on other branches (repository-relative paths), allowed to be missing until they merge."""

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)


def links(text: str) -> list[str]:
    """Markdown link targets outside code blocks and code spans."""
    return LINK.findall(CODE.sub("", FENCE.sub("", text)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text.replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        result.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return result


def broken(page: Path) -> list[str]:
    """The page's relative links whose file, or heading, does not exist."""
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            if shown(resolved) not in PENDING:
                problems.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {shown(resolved)}")
    return problems


def shown(path: Path) -> str:
    """A path as the repository names it (the bare name outside it)."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    assert broken(page) == []


def test_readme_is_short():
    assert (ROOT / "README.md").stat().st_size < README_MAX_BYTES


def test_readme_links_every_page_in_docs():
    linked = {Path(target.partition("#")[0]).name for target in links((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert sorted(page.name for page in (ROOT / "docs").glob("*.md") if page.name not in linked) == []


def test_a_missing_page_and_a_missing_heading_are_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A heading, with `code`\n\n[ok](#a-heading-with-code) [gone](nowhere.md) [x](#nope)")
    assert broken(page) == ["nowhere.md: no such file", "#nope: no heading #nope in page.md"]
