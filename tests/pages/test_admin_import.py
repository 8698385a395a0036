"""dashboard.py treats a missing pages/views/admin.py as optional, but never hides a broken one."""
import sys

import pages.views
from tests.pages.apptest import open_app, shown_text


class _BrokenAdmin:
    """An import hook: pages.views.admin exists but one of its own imports fails."""
    def find_spec(self, name, path=None, target=None):
        if name == "pages.views.admin":
            raise ImportError("cannot import name 'refund_charge' from 'tally_admin'")
        return None


def _forget_admin(monkeypatch):
    """As if pages.views.admin had never been imported in this process."""
    monkeypatch.delitem(sys.modules, "pages.views.admin", raising=False)
    monkeypatch.delattr(pages.views, "admin", raising=False)


def test_a_missing_admin_module_leaves_the_viewer_pages_working(dashboard_env, monkeypatch):
    _forget_admin(monkeypatch)
    monkeypatch.setitem(sys.modules, "pages.views.admin", None)  # "no such module"
    at = open_app()
    assert not at.exception
    assert "Overview" in shown_text(at)


def test_a_broken_admin_module_is_not_swallowed(dashboard_env, monkeypatch):
    _forget_admin(monkeypatch)
    monkeypatch.setattr(sys, "meta_path", [_BrokenAdmin(), *sys.meta_path])
    at = open_app()
    assert at.exception  # loud (details only in the server log), not an app without admin pages
