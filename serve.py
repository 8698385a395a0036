"""The dashboard (dashboard.py) with frame protection; `make run` serves it through `python -m tally_ui.serve`.

Streamlit's own server sends no frame-protection headers and has no option for
them, so Tally is served as an `st.App` whose middleware adds them to every
HTTP answer: no other site can show Tally in a frame and trick a signed-in
admin into clicking (clickjacking). Frames of Tally's own origin stay allowed.
`streamlit run dashboard.py` still works, without these headers.
"""
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

FRAME_HEADERS = [(b"x-frame-options", b"SAMEORIGIN"),
                 (b"content-security-policy", b"frame-ancestors 'self'")]


class FrameProtection:
    """ASGI middleware: frame-protection headers on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_protected(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in FRAME_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message = {**message, "headers": headers + FRAME_HEADERS}
            await send(message)

        return await self.app(scope, receive, send_protected)


app = st.App(str(Path(__file__).with_name("dashboard.py")), middleware=[Middleware(FrameProtection)])
