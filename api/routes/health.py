"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.deps import SessionDep
from api.errors import problem, responses
from api.principal import authenticate, bearer_token
from api.schemas import Health
from archive.models import Document

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", summary="Service health", response_model=Health, responses=responses(503))
def health(request: Request, session: SessionDep) -> JSONResponse:
    """`ok` with the database kind and how many documents it holds; 503 when the database
    cannot be reached. With `ARCHIVE_PUBLIC_READS=false` it answers without a key too (it is
    what a load balancer asks), but gives the count only to a valid key."""
    try:
        count = session.execute(select(func.count()).select_from(Document)).scalar_one()
        shown = request.app.state.settings.public_reads or _keyed(request, session)
    except SQLAlchemyError:
        return problem(503, "the database is unavailable", headers={"Retry-After": "2"})
    engine = request.app.state.engine
    body: dict = {"status": "ok", "database": engine.dialect.name}
    if shown:
        body["documents"] = count
    return JSONResponse(body)


def _keyed(request: Request, session: Session) -> bool:
    secret = bearer_token(request.headers)
    return secret is not None and authenticate(request, session, secret) is not None
