"""The contenders: one small app module each, all serving the same URL shapes.

Every module builds ``app`` at import time from the environment that ``bench.run``
sets (see ``config``), so uvicorn can load it as ``bench.apps.NAME:app``.
"""
