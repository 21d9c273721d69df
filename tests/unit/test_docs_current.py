"""The generated pages in docs/ and Kubernetes resources in deploy/k8s are what `make docs` writes from the
code today: a change to the grants, the topic table or a contract cannot land with documentation (or a
deployment) that says otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.cli import docs, kubernetes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("write", "folder"), [(docs.write, ROOT / "docs"), (kubernetes.write, ROOT / "deploy" / "k8s")]
)
def test_the_committed_generated_files_are_current(
    write: Callable[[Path], object], folder: Path, tmp_path: Path
) -> None:
    write(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "make docs wrote nothing"
    stale = [
        str(p)
        for p in generated
        if not (folder / p).is_file() or (folder / p).read_text() != (tmp_path / p).read_text()
    ]
    assert not stale, f"run `make docs`: these differ from what the code generates: {stale}"
