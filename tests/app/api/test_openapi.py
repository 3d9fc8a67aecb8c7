"""/docs and /openapi.json show a real response schema for every JSON route, and the media type of
every file download."""

from fastapi.testclient import TestClient

from app.main import create_app


def spec() -> dict:
    with TestClient(create_app(background=False)) as client:
        return client.get("/openapi.json").json()


def test_every_json_answer_has_a_schema_with_its_keys(settings):
    found = spec()
    empty = []
    for path, operations in found["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if not status.startswith("2") or "application/json" not in answer.get("content",
                                                                                      {}):
                    continue
                schema = answer["content"]["application/json"]["schema"]
                if not (schema.get("$ref") or schema.get("properties") or schema.get("items")):
                    empty.append(f"{method.upper()} {path} {status}")
    assert empty == []


def test_openapi_has_response_schemas_for_submissions_leaderboards_workers_organisers(settings):
    spec_ = spec()

    def schema(path: str, method: str, status: str = "200") -> dict:
        content = spec_["paths"][path][method]["responses"][status]["content"]
        found = content["application/json"]["schema"]
        if "$ref" in found:
            found = spec_["components"]["schemas"][found["$ref"].rsplit("/", 1)[1]]
        return found

    routes = [("/api/submissions", "get", "200"), ("/api/submissions/{submission_id}", "get", "200"),
              ("/score", "post", "202"),
              ("/api/challenges/{challenge}/phases/{phase}/leaderboard", "get", "200"),
              *[(f"/api/worker/{name}", "post", "200")
                for name in ("hello", "heartbeat", "goodbye", "claim")],
              *[(f"/api/worker/jobs/{{submission_id}}/{name}", "post", "200")
                for name in ("progress", "results", "fail")],
              ("/api/organiser/queue", "get", "200"), ("/api/organiser/workers/tokens", "get", "200"),
              ("/api/organiser/workers/tokens", "post", "201"),
              ("/api/organiser/workers/tokens/{worker_token_id}/revoke", "post", "200"),
              ("/api/challenges/{challenge}/final", "get", "200")]
    for path, method, status in routes:
        assert schema(path, method, status).get("properties"), (path, method)
    view = schema("/api/submissions/{submission_id}", "get")
    assert {"id", "status", "mean", "images", "progress"} <= set(view["properties"])
    assert "text/csv" in spec_["paths"]["/api/submissions/{submission_id}/results.csv"]["get"][
        "responses"]["200"]["content"]


def test_file_downloads_declare_their_media_type(settings):
    paths = spec()["paths"]
    for path, media_type in [("/api/submissions/{submission_id}/results.csv", "text/csv"),
                             ("/api/challenges/{challenge}/final.csv", "text/csv"),
                             ("/api/worker/jobs/{submission_id}/upload", "application/zip")]:
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [media_type]
