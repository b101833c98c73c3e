"""The README and the product documentation under docs/ point only at files inside the repository, and those
files exist: a clone is the whole documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md",
             ROOT / "deploy" / "README.md"]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
BARE_URL = re.compile(r"(?<![`<(])\bhttps?://[^\s)`|]+")


def without_code(text: str) -> str:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_resolve(document: Path):
    text = without_code(document.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        assert "://" not in target and not target.startswith("mailto:"), f"{target} points outside the repository"
        path = target.split("#", 1)[0]
        if path:
            resolved = (document.parent / path).resolve()
            assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
            assert resolved.exists(), f"{target} does not exist"
    assert not BARE_URL.findall(text), "a bare URL outside code: write it as code or link a file of the repository"


def test_the_readme_leads_to_the_product_documentation():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/domain.md", "docs/flows.md", "docs/api.md"):
        assert f"]({page}" in readme, f"README.md does not link {page}"
