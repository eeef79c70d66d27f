"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api.deps import SessionDep
from api.errors import problem, responses
from api.schemas import Health
from archive.models import Document

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", summary="Service health", response_model=Health, responses=responses(503))
def health(request: Request, session: SessionDep) -> JSONResponse:
    """`ok` with the database kind and how many documents it holds; 503 when the database
    cannot be reached."""
    try:
        count = session.execute(select(func.count()).select_from(Document)).scalar_one()
    except SQLAlchemyError:
        return problem(503, "the database is unavailable", headers={"Retry-After": "2"})
    engine = request.app.state.engine
    return JSONResponse({"status": "ok", "database": engine.dialect.name, "documents": count})
