"""Helpers for tests of remote workers: worker tokens, the worker routes, a worker's session."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response

from app import worker_tokens
from app.db import session_scope
from metrics.registry import METRIC_NAMES

WORKER_PREFIX = "/api/worker/"


def new_worker_token(name: str = "lab-gpu") -> str:
    """A worker token made as ``raim worker token add`` makes one."""
    with session_scope() as session:
        return worker_tokens.create(session, name)[1]


def revoke_worker_token(name: str) -> None:
    with session_scope() as session:
        worker_tokens.revoke(session, worker_tokens.by_name_or_prefix(session, name))


def worker_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every worker-API route, read from the application's routes."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  if isinstance(route.original_route, APIRoute)
                  and route.path.startswith(WORKER_PREFIX)
                  for method in route.methods or ())


def fill(path: str, submission_id: int) -> str:
    return re.sub(r"{submission_id}", str(submission_id), path)


def measurements(names: list[str], **overrides: object) -> list[dict]:
    """Plausible finite measurements for each image, as a worker posts them."""
    values = {"psnr": 24.5, "ssim": 0.71, "lpips": 0.21, "dists": 0.14, "niqe": 5.2}
    return [{"name": name, **values, **overrides} for name in names]


@dataclass
class WorkerClient:
    """A remote worker speaking to the API through a test client: token, name, requests."""

    client: TestClient
    token: str
    name: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def hello(self, host: str = "gpu-box", pid: int = 4242) -> Response:
        answer = self.client.post("/api/worker/hello", headers=self.headers,
                                  json={"host": host, "pid": pid, "version": "test",
                                        "device": "cpu"})
        if answer.status_code == 200:
            self.name = answer.json()["worker"]
        return answer

    def post(self, path: str, body: dict | None = None) -> Response:
        """POST ``body`` with this worker's name; NaN and infinities are written as Python's
        json (and the worker's requests) writes them."""
        return self.client.post(path, headers={**self.headers,
                                               "Content-Type": "application/json"},
                                content=json.dumps({"worker": self.name, **(body or {})}))

    def get(self, path: str) -> Response:
        return self.client.get(path, headers=self.headers)

    def claim(self) -> dict | None:
        answer = self.post("/api/worker/claim")
        assert answer.status_code == 200, answer.text
        return answer.json()["job"]

    def results(self, submission_id: int, images: list[dict], **extra: object) -> Response:
        return self.post(f"/api/worker/jobs/{submission_id}/results",
                         {"images": images, "versions": dict.fromkeys(METRIC_NAMES, "t"),
                          "notes": [], **extra})


@contextmanager
def service_in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its URL."""
    import uvicorn

    from tests.utils.processes import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
