"""Pages hold no SQL: every number a page shows comes from a registered metric, so
page -> metric name -> metrics/<module>.py -> its SQL is one hop each (issue #14).

Read from the source with `ast`, so it holds for code paths no other test drives."""
import ast
import re
from pathlib import Path

import pytest

from metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = sorted((ROOT / "pages").rglob("*.py"))
# What SQL looks like in a string: Tally writes its SQL keywords in capitals (a page's
# English, "Select a charge ... from the list", does not), and running any SQL, whatever
# its case, needs one of QUERY_CALLS.
SQL = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b"
                 r"|\bCREATE\s+(OR\s+REPLACE\s+)?TABLE\b|\bDROP\s+TABLE\b|\bFROM\s+\w+\s+WHERE\b")
QUERY_CALLS = {"query", "execute", "executemany", "sql", "read_sql"}
# Functions whose first argument names a metric.
METRIC_READERS = {"metric_frame", "published.metric", "money_columns", "metric_csv"}
# Pages whose data is not the published database's metrics: the admin's writes and audit
# trail belong to tally_admin (its own database), and the page calls tally_admin's functions;
# the notification settings and log are tally_notify's own database.
NOT_METRICS = {"admin.py", "notifications_page.py", "__init__.py"}


def tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def strings(node: ast.AST) -> list[str]:
    """Every string literal, an f-string's literal parts joined as one."""
    found = []
    for child in ast.walk(node):
        if isinstance(child, ast.JoinedStr):
            found.append(" ".join(v.value for v in child.values
                                  if isinstance(v, ast.Constant) and isinstance(v.value, str)))
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.append(child.value)
    return found


def called(node: ast.AST) -> list[ast.Call]:
    return [c for c in ast.walk(node) if isinstance(c, ast.Call)]


def name_of(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def reader_of(call: ast.Call) -> str | None:
    """`published.metric` (not st.metric, a card), else the function's own name."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "metric":
        return f"{func.value.id}.metric" if isinstance(func.value, ast.Name) else None
    return name_of(call)


def metric_names(path: Path) -> list[str]:
    return [c.args[0].value for c in called(tree(path)) if reader_of(c) in METRIC_READERS and c.args
            and isinstance(c.args[0], ast.Constant) and isinstance(c.args[0].value, str)]


def test_the_checks_see_sql_and_queries():
    """The scan would catch what the pages used to do."""
    old = ast.parse('frame = published.query(f"""\n  SELECT r.id FROM refunds r ORDER BY 1 LIMIT {N}""")')
    assert any(SQL.search(s) for s in strings(old))
    assert [name_of(c) for c in called(old)] == ["query"]
    assert not SQL.search("Select a charge to refund, then choose the amount from the form.")


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_module_has_no_sql(path):
    source = tree(path)
    assert [s for s in strings(source) if SQL.search(s)] == []
    assert sorted({name_of(c) for c in called(source)} & QUERY_CALLS) == []


@pytest.mark.parametrize("path", [p for p in PAGE_FILES if p.name not in NOT_METRICS],
                         ids=lambda p: p.name)
def test_a_page_reads_its_data_through_registered_metrics(path):
    names = metric_names(path)
    assert names, f"{path.name} reads no metric by name"
    assert sorted(set(names) - set(METRICS)) == []
