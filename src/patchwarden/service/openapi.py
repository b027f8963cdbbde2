"""The OpenAPI 3.1 document of ``serve``'s HTTP API, served at ``/openapi.json`` and checked in
as docs/openapi.json (a test keeps the two, and the app's routes, in step)."""

from __future__ import annotations

from typing import Any

from patchwarden import __version__

_READ: list[dict[str, list[str]]] = [{"bearer": []}]
_ERR = {"$ref": "#/components/responses/Error"}


def _op(
    summary: str,
    *,
    auth: str | None = None,
    ok: str = "200",
    body: bool = False,
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {ok: {"description": "success", "content": {"application/json": {}}}},
    }
    if auth:
        op["security"] = _READ
        op["description"] = f"Needs a {auth} token."
        op["responses"].update({"401": _ERR, "403": _ERR, "429": _ERR})
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {}}}
        op["responses"]["400"] = _ERR
    params_list = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
    ] + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query]
    if params_list:
        op["parameters"] = params_list
    return op


PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/healthz": {"get": _op("Liveness: the process answers")},
    "/readyz": {
        "get": _op(
            "Readiness: started, the state store reachable and, with queue.broker_url, the "
            "broker answering (else 503 with the reasons)"
        )
    },
    "/metrics": {"get": _op("Prometheus metrics (patchwarden_*), text format")},
    "/openapi.json": {"get": _op("This document")},
    "/hooks/registry": {
        "post": _op(
            "Registry webhook (distribution notifications, Docker Hub, Harbor, GitHub packages): "
            "re-check the repositories it names. Authorization: Bearer SECRET or "
            "X-Hub-Signature-256.",
            ok="202",
            body=True,
        )
    },
    "/hooks/git": {
        "post": _op(
            "Git forge push webhook (GitHub, GitLab, Gitea/Forgejo): fast-forward the watched "
            "checkouts of the pushed repository and re-inventory them (a check). "
            "X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token.",
            ok="202",
            body=True,
        )
    },
    "/api/v1/references": {
        "get": _op(
            "Every image reference and its newest check result",
            auth="read",
            query=("status", "limit", "offset"),
        )
    },
    "/api/v1/fleet": {"get": _op("Fleet summary and job states", auth="read")},
    "/api/v1/updates": {"get": _op("Pending and decided updates", auth="read", query=("state",))},
    "/api/v1/updates/{id}/approve": {
        "post": _op("Approve a pending update", auth="admin", params=("id",))
    },
    "/api/v1/updates/{id}/deny": {
        "post": _op("Deny a pending update", auth="admin", params=("id",))
    },
    "/api/v1/jobs": {"get": _op("Jobs and their recent runs", auth="read")},
    "/api/v1/jobs/{name}/run": {
        "post": _op(
            "Queue a run of a job (check, apply, scan, advisory-refresh, update, engine-update, "
            "rebuild, rollout, retention)",
            auth="admin",
            ok="202",
            params=("name",),
        )
    },
    "/api/v1/scan": {
        "get": _op(
            "Scan a registry image (packages and, unless sbom_only, vulnerabilities); the "
            "JSON report of `scan --format json`",
            auth="read",
            query=("image", "sbom_only"),
        )
    },
    "/api/v1/containers/{name}/rollback": {
        "post": _op(
            "Roll a container back to the image it ran before its last update (queued for the "
            "apply job, inside maintenance windows)",
            auth="admin",
            ok="202",
            params=("name",),
        )
    },
    "/api/v1/findings": {
        "get": _op(
            "Stored SBOMs of known images: vulnerabilities by severity, the ones advisory "
            "refreshes added since the image was first scanned, the containers running it "
            "(details=1: every finding)",
            auth="read",
            query=("details", "new_only"),
        )
    },
    "/api/v1/audit": {"get": _op("Audit log, newest first", auth="read", query=("limit",))},
    "/api/v1/history": {
        "get": _op(
            "Container updates and rollbacks, newest first (engine history's records)",
            auth="read",
            query=("container", "limit"),
        )
    },
    "/api/v1/tasks": {
        "get": _op(
            "Jobs handed to workers (queue.broker_url); state=dead: the dead-letter list",
            auth="read",
            query=("state", "limit"),
        )
    },
    "/api/v1/tasks/{id}/retry": {
        "post": _op(
            "Send a dead task to the workers again", auth="admin", ok="202", params=("id",)
        )
    },
    "/api/v1/tokens": {
        "get": _op("API tokens (names and roles; never the tokens)", auth="admin"),
        "post": _op(
            "Create a token {name, role}; the token is returned once",
            auth="admin",
            ok="201",
            body=True,
        ),
    },
    "/api/v1/tokens/{name}": {"delete": _op("Delete a token", auth="admin", params=("name",))},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "patchwarden serve", "version": __version__},
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "error with a hint",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {"type": "string"},
                                    "hint": {"type": "string"},
                                },
                                "required": ["error"],
                            }
                        }
                    },
                }
            },
        },
    }
