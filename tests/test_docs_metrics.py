"""docs/metrics.md keeps up with the code (in the style of sqlite-utils' test_docs.py):
every registered metric is documented, and every test it cites exists."""
import ast
import re
from pathlib import Path

import pytest

from metrics import METRICS

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "metrics.md"

heading_re = re.compile(r"^#{1,6}\s+`?([a-z0-9_]+)`?\s*$", re.M)  # ### mrr
table_re = re.compile(r"^\|\s*`?([a-z0-9_]+)`?\s*\|", re.M)  # | mrr | ...
test_ref_re = re.compile(r"(tests/[\w/]+\.py)::(\w+)")  # tests/metrics/test_x.py::test_y


@pytest.fixture(scope="session")
def doc() -> str:
    return DOC.read_text()


@pytest.fixture(scope="session")
def documented_metrics(doc) -> set[str]:
    return set(heading_re.findall(doc)) | set(table_re.findall(doc))


def cited_tests() -> list[tuple[str, str]]:
    return sorted(set(test_ref_re.findall(DOC.read_text())))


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_is_documented(documented_metrics, name):
    assert name in documented_metrics, f"{name} has no heading or table entry in docs/metrics.md"


def test_the_doc_cites_tests():
    assert len(cited_tests()) >= len(METRICS)


@pytest.mark.parametrize("path, function", cited_tests())
def test_every_cited_test_exists(path, function):
    file = ROOT / path
    assert file.is_file(), f"docs/metrics.md cites {path}, which does not exist"
    assert function in functions_in(file), f"{path} defines no function {function}"
