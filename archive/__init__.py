"""The archive domain: documents, quote spans, citations, claims and their provenance.

Nothing in this package imports FastAPI or Starlette: the CLI, scripts and the HTTP edge
(`api/`) all call the same functions.
"""

__version__ = "0.1.0"
