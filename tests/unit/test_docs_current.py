"""The generated pages in docs/ are what `make docs` writes from the code today: a change to the grants,
the topic table or a contract cannot land with documentation that says otherwise."""

from __future__ import annotations

from pathlib import Path

from services.cli.docs import write

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_generated_docs_are_current(tmp_path: Path) -> None:
    write(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "make docs wrote nothing"
    stale = [
        str(p)
        for p in generated
        if not (DOCS / p).is_file() or (DOCS / p).read_text() != (tmp_path / p).read_text()
    ]
    assert not stale, f"run `make docs`: these differ from what the code generates: {stale}"
