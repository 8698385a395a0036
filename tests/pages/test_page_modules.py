"""Page modules render nothing on their own: a deep link that runs one directly shows no data."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import ROOT

PAGE_FILES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


@pytest.mark.parametrize("name", PAGE_FILES)
def test_running_a_page_file_directly_renders_nothing(dashboard_env, name):
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30).run()
    assert not at.exception
    assert not at.main.children, f"pages/{name} rendered at import"
    assert not at.sidebar.children, f"pages/{name} rendered at import"


def test_every_page_module_is_registered_by_the_entry_point():
    entry = (ROOT / "dashboard.py").read_text()
    for name in PAGE_FILES:
        assert f"pages.{Path(name).stem}" in entry or Path(name).stem == "admin"
