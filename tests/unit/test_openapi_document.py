"""openapi.yaml is generated from the declared contract (src/edge/contract.py, src/edge/openapi.py): the
committed file must be exactly what `make openapi` writes now."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.openapi import document, to_yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_a_fresh_generation() -> None:
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == to_yaml(document()), "openapi.yaml is stale: run `make openapi` and commit it"
