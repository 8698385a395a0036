"""Dependencies point one way: Stripe -> etl -> database -> metrics -> pages.
etl never imports metrics (or what builds on it), not even inside a function."""
import ast
from pathlib import Path

ETL = Path(__file__).resolve().parents[2] / "etl"
ABOVE_ETL = ("metrics", "tally_ui", "tally_admin", "pages", "dashboard")


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_etl_imports_nothing_that_builds_on_it():
    files = sorted(ETL.rglob("*.py"))
    assert len(files) > 20  # the walk found the package
    wrong = {f"{path.relative_to(ETL.parent)}: {name}"
             for path in files for name in imported_modules(path.read_text())
             if name.split(".")[0] in ABOVE_ETL}
    assert wrong == set()


def test_the_check_sees_imports_inside_functions():
    source = "def publish():\n    from metrics.mrr import refresh_stages\n    import metrics.common\n"
    assert imported_modules(source) == {"metrics.mrr", "metrics.common"}
