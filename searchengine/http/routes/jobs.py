"""The service: health, status, the page's session cookie, and indexing jobs."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import Response

from searchengine.http.auth import SESSION_COOKIE, session_value
from searchengine.http.errors import ERRORS, ApiError
from searchengine.http.jobs import Job
from searchengine.http.schemas import HealthOut, JobOut, StatusOut
from searchengine.http.state import AppState


def job_out(job: Job | None) -> JobOut | None:
    return JobOut(**asdict(job)) if job else None


def health_router(state: AppState) -> APIRouter:
    """The one route that needs no token."""
    api = APIRouter()

    @api.get("/api/health", response_model=HealthOut, tags=["service"])
    def health() -> HealthOut:
        """Liveness; needs no token."""
        return HealthOut(status="ok", model_loaded=state.engine.model_loaded)

    return api


def router(state: AppState) -> APIRouter:
    api = APIRouter()
    engine, jobs = state.engine, state.jobs

    @api.get("/api/status", response_model=StatusOut, tags=["service"])
    def status() -> StatusOut:
        st = asdict(engine.status())
        st.pop("folder", None)
        return StatusOut(**st, job=job_out(jobs.current()))

    @api.post("/api/session", status_code=204, tags=["service"], response_class=Response,
              responses={204: {"description": "A session cookie was set."}})
    def start_session() -> Response:
        """Trade the token (sent in the Authorization header) for an HttpOnly, SameSite=Strict
        cookie, so that the page's media and thumbnail links need no token in their URLs."""
        response = Response(status_code=204)
        if state.api_token:
            response.set_cookie(SESSION_COOKIE, session_value(state.api_token), httponly=True,
                                samesite="strict", path="/")
        return response

    @api.post("/api/index", response_model=JobOut, status_code=202, tags=["indexing"],
              responses={409: ERRORS[409]})
    def start_index() -> JobOut:
        """Re-index the index's folders in the background; poll the job for progress."""
        if not engine.roots():
            raise ApiError(409, "this index has no folders yet; run `searchengine index FOLDER` first")
        return job_out(jobs.start())  # type: ignore[return-value]

    @api.get("/api/jobs/{job_id}", response_model=JobOut, tags=["indexing"],
             responses={404: ERRORS[404]})
    def get_job(job_id: str) -> JobOut:
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}")
        return job_out(job)  # type: ignore[return-value]

    return api
