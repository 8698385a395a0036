"""Shared helpers of the Streamlit dashboard: data access, filters, charts, exports, banners.

Page modules in `pages/` only define functions and call these helpers; nothing
here renders at import either.
"""
