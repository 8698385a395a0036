"""`python -m tally_ui.serve [streamlit options]`: the dashboard as `make run` serves it.

It runs `serve.py` (dashboard.py with frame-protection headers) with pages
registered by st.navigation only.

Whenever a `pages/` folder sits next to the entry point, Streamlit treats it as
its old-style pages folder until some script calls `st.navigation`: on a fresh
server the first visit to a deep link such as `/mrr` then gets "Page not
found" (only the folder's files are known), and signed-out visitors, whose runs
stop before `st.navigation`, get the folder's contents as a sidebar. Our pages
are all registered by dashboard.py, so this turns that off before the server
starts (`make run` and the browser tests start the dashboard this way).
"""
from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "serve.py"  # dashboard.py with frame protection


def no_pages_folder() -> None:
    """Streamlit must not discover pages in pages/: dashboard.py's st.navigation lists them all."""
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli
    no_pages_folder()
    cli.main(["run", str(APP), *(sys.argv[1:] if argv is None else argv)], prog_name="streamlit")


if __name__ == "__main__":
    main()
