"""The prediction service: a REST API (FastAPI on uvicorn) and a web page for any run directory.

Start it with ``nnforge serve RUN``; build the ASGI app in Python with
:func:`nnforge.serve.app.create_app`. Importing this package stays light (no torch, no FastAPI).
"""
