"""The worker API: remote `raim worker` processes claim jobs, fetch files, report, over HTTP.

Every route takes a worker token only (``deps.WorkerCaller``: 401 without one or when revoked,
403 for team, organiser or browser credentials), and each is one call of
``app.jobs.exchange``, which holds the rules. A request's body is read only after the token
and the path's submission have been checked, and never past its size cap (413): nobody can
make the service hold a large body without a worker token. See docs/service.md, "Worker API".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError

from app.api.schemas import (
    ClaimOut,
    HeldOut,
    HelloOut,
    StatusOut,
    StoredOut,
    WorkerOut,
    file_download,
)
from app.config import get_settings
from app.deps import WorkerCaller, existing_submission_id
from app.errors import ApiError
from app.jobs import exchange

router = APIRouter(prefix="/api/worker", tags=["worker"])

SMALL_BODY = 64 * 1024
RESULTS_BODY = 16 * 1024 * 1024  # ~100 bytes per image: far above RAIM_MAX_IMAGES' worth
Name = Annotated[str, Field(min_length=1, max_length=255)]
Figures = Annotated[dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]],
                    Field(max_length=32)]
Body = TypeVar("Body", bound=BaseModel)


class Hello(BaseModel):
    host: Name
    pid: int = Field(ge=0, le=2**31 - 1)
    version: str = Field(default="", max_length=255)
    device: str = Field(default="", max_length=255)


class Beat(BaseModel):
    worker: Name
    cache: Figures | None = None  # the DISTS feature cache: hits, misses, bytes, entries, ...
    ground_truth_cache: Figures | None = None  # the worker's ground-truth zips, likewise


class WorkerOnly(BaseModel):
    worker: Name


class Progress(Beat):
    done: int | None = Field(default=None, ge=0)  # images done; None: a heartbeat only


class Results(BaseModel):
    worker: Name
    images: list[dict[str, Any]] = Field(max_length=100_000)
    versions: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Failure(BaseModel):
    worker: Name
    message: str = Field(min_length=1, max_length=exchange.MAX_TEXT)
    retry: bool = False  # True: a transient error (back to the queue); False: bad input


def json_body(model: type[Body], limit: int) -> Callable[[Request], Awaitable[Body]]:
    """A dependency reading the request's JSON body as ``model``: 413 past ``limit`` bytes,
    422 naming each field that does not fit (the one error body)."""

    async def read(request: Request) -> Body:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the request body is over {limit} bytes")
            chunks.append(chunk)
        try:
            body = model.model_validate_json(b"".join(chunks) or b"null")
        except ValidationError as exc:
            where = ["body" + "".join(f".{part}" for part in error["loc"]) + f": {error['msg']}"
                     for error in exc.errors()]
            raise ApiError(422, "; ".join(where)) from None
        where = nul_paths(body.model_dump(), "body")
        if where:  # no database stores it (PostgreSQL refuses it in text and JSON)
            raise ApiError(422, "; ".join(f"{path}: a NUL character is not allowed"
                                          for path in where[:10]))
        return body

    return read


def nul_paths(value: Any, path: str) -> list[str]:
    """Where a NUL character hides in ``value`` (strings, dict keys and values, lists)."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = [f"{path} key" for key in value if isinstance(key, str) and "\x00" in key]
        for key, item in value.items():
            found += nul_paths(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in nul_paths(item, f"{path}[{index}]")]
    return []


def documented(model: type[BaseModel]) -> dict:
    """The OpenAPI requestBody of a route whose body ``json_body`` reads."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


def known_submission(submission_id: int, caller: WorkerCaller) -> int:
    """The path's submission id once the token is checked: 404 when there is no such row."""
    return existing_submission_id(submission_id)


Known = Annotated[int, Depends(known_submission)]


def caches(body: Beat) -> dict:
    return {key: dict(value) for key, value in
            (("features", body.cache), ("ground_truth", body.ground_truth_cache))
            if value is not None}


@router.post("/hello", response_model=HelloOut, response_model_exclude_unset=True,
              openapi_extra=documented(Hello))
def hello(caller: WorkerCaller,
          body: Annotated[Hello, Depends(json_body(Hello, SMALL_BODY))]) -> dict:
    """Register a worker process: its name (``token-name@host:pid``) and heartbeat timings."""
    return exchange.hello(caller, host=body.host, pid=body.pid, version=body.version,
                          device=body.device, settings=get_settings())


@router.post("/heartbeat", response_model=WorkerOut, response_model_exclude_unset=True,
              openapi_extra=documented(Beat))
def heartbeat(caller: WorkerCaller,
              body: Annotated[Beat, Depends(json_body(Beat, SMALL_BODY))]) -> dict:
    """An idle worker's sign of life, with its cache figures."""
    return exchange.alive(caller, body.worker, caches(body))


@router.post("/goodbye", response_model=WorkerOut, response_model_exclude_unset=True,
              openapi_extra=documented(WorkerOnly))
def goodbye(caller: WorkerCaller,
            body: Annotated[WorkerOnly, Depends(json_body(WorkerOnly, SMALL_BODY))]) -> dict:
    """The worker process stops."""
    return exchange.goodbye(caller, body.worker)


@router.post("/claim", response_model=ClaimOut, response_model_exclude_unset=True,
              openapi_extra=documented(WorkerOnly))
def claim(caller: WorkerCaller,
          body: Annotated[WorkerOnly, Depends(json_body(WorkerOnly, SMALL_BODY))]) -> dict:
    """The next job in the fair order, held by this worker from now on; ``{"job": null}``
    when nothing waits."""
    return exchange.claim(caller, body.worker, get_settings())


@router.get("/jobs/{submission_id}/upload",
            **file_download("application/zip", "the submission's zip"))
def download_upload(caller: WorkerCaller, submission_id: Known) -> FileResponse:
    """The submission's stored zip, while a worker of this token holds it."""
    path = exchange.upload_path(caller, submission_id, get_settings())
    return FileResponse(path, media_type="application/zip",
                        filename=f"submission-{submission_id}.zip")


@router.get("/jobs/{submission_id}/ground-truth",
            **file_download("application/zip", "the ground truth's zip"))
def download_ground_truth(caller: WorkerCaller, submission_id: Known) -> FileResponse:
    """The zip of the submission's ground truth, while a worker of this token holds it."""
    zipped = exchange.ground_truth_zip(caller, submission_id, get_settings())
    return FileResponse(zipped.path, media_type="application/zip",
                        filename=f"ground-truth-{zipped.sha256[:16]}.zip")


@router.post("/jobs/{submission_id}/progress", response_model=HeldOut, response_model_exclude_unset=True,
              openapi_extra=documented(Progress))
def progress(caller: WorkerCaller, submission_id: Known,
             body: Annotated[Progress, Depends(json_body(Progress, SMALL_BODY))]) -> dict:
    """Renew the job's lease (a heartbeat), recording images done when given; 409 once lost."""
    return exchange.progress(caller, submission_id, body.worker, body.done, caches(body))


@router.post("/jobs/{submission_id}/results", response_model=StoredOut, response_model_exclude_unset=True,
              openapi_extra=documented(Results))
def results(caller: WorkerCaller, submission_id: Known,
            body: Annotated[Results, Depends(json_body(Results, RESULTS_BODY))]) -> dict:
    """Every image's measurements: checked, scored with the challenge's formula and stored in
    one transaction; 400 listing every problem, 409 when the lease was lost."""
    return exchange.results(caller, submission_id, body.worker, body.images, body.versions,
                            body.notes, get_settings())


@router.post("/jobs/{submission_id}/fail", response_model=StatusOut, response_model_exclude_unset=True,
              openapi_extra=documented(Failure))
def fail(caller: WorkerCaller, submission_id: Known,
         body: Annotated[Failure, Depends(json_body(Failure, SMALL_BODY))]) -> dict:
    """End the attempt: the submission fails with ``message``, or with ``retry`` goes back to
    the queue (failed once RAIM_SCORING_RETRIES attempts are spent)."""
    return exchange.fail(caller, submission_id, body.worker, body.message, body.retry,
                         get_settings())
