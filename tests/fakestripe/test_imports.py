"""fakestripe is a product package the tests use, never the other way round."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_fakestripe_imports_nothing_from_tests():
    files = sorted((ROOT / "fakestripe").rglob("*.py"))
    assert any(f.name == "testing.py" for f in files)
    offenders = {str(f.relative_to(ROOT)): sorted(m for m in imported_modules(f) if m.split(".")[0] == "tests")
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}
