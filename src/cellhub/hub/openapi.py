"""The OpenAPI 3 description of the hub's REST API, served at ``GET /api/openapi.json``.

It describes what the hub answers, errors included — the kernels, sessions, kernel specs
and status API with Jupyter Server's paths and models, permalinks, workers, health,
metrics, accounts, and the contents API with a worksheet's history (hub/contents_openapi.py)
— so that clients can be generated from it and a fuzzer (schemathesis, in
tests/hub/test_fuzz_rest.py) can check every answer against it. It is public, like ``GET
/api``: it holds nothing about this deployment. Every error is ``{"message": …, "reason":
null}``, as Jupyter Server sends them. The WebSocket channels
(``/api/kernels/{kernel_id}/channels``) are Jupyter's messaging protocol, which OpenAPI
cannot describe: see docs/protocol.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import cellhub

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def answer(description: str, schema: str | None = None, **headers: str) -> dict[str, Any]:
    """A response: its description, JSON ``schema`` (none for 204) and documented headers."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": ref(schema)}}
    if headers:
        response["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def errors(*statuses: int) -> dict[str, Any]:
    return {str(status): answer(ERRORS[status], "Error") for status in statuses}


ERRORS = {
    400: "The request body is not JSON, or not the JSON this operation takes.",
    403: "No token, a wrong one, or (anonymous access) someone else's kernel.",
    404: "No such kernel, session, kernel spec, permalink, account or token.",
    409: "An account of that name exists.",
    413: "The request body, or the shared code, is over its size limit.",
    429: "Over this client's budget (kernel starts, running kernels, permalinks).",
    501: "No kernel spec of that name (sessions, as Jupyter Server answers it).",
    503: "No worker can take the kernel (all full or unreachable).",
}
RETRY = {"Retry_After": "Seconds to wait before trying again (kernel starts, permalinks)."}


def path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        **({"description": description} if description else {}),
    }


def operation(summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **more}


def json_body(schema: str, required: bool) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": ref(schema)}}}


def kernel_paths() -> dict[str, Any]:
    kernel_op = {"parameters": [path_parameter("kernel_id", "The kernel's id (a UUID).")]}
    return {
        "/api/kernels": {
            "get": operation("The running kernels.", {"200": answer("Kernels.", "KernelList")}),
            "post": operation(
                "Start a kernel.",
                {
                    "201": answer("Started.", "Kernel", Location="The new kernel's URL."),
                    **errors(400, 404, 413),
                    "429": answer(ERRORS[429], "Error", **RETRY),
                    **errors(503),
                },
                requestBody=json_body("StartKernel", required=False),
            ),
        },
        "/api/kernels/{kernel_id}": {
            **kernel_op,
            "get": operation("One kernel.", {"200": answer("Its model.", "Kernel"), **errors(404)}),
            "delete": operation(
                "Shut a kernel down.", {"204": answer("Shut down."), **errors(404)}
            ),
        },
        "/api/kernels/{kernel_id}/interrupt": {
            **kernel_op,
            "post": operation(
                "Interrupt the running code (SIGINT).", {"204": answer("Sent."), **errors(404)}
            ),
        },
        "/api/kernels/{kernel_id}/restart": {
            **kernel_op,
            "post": operation(
                "A fresh session under the same id.",
                {"200": answer("Restarted.", "Kernel"), **errors(404, 503)},
            ),
        },
        "/api/kernels/{kernel_id}/files": {
            **kernel_op,
            "post": operation(
                "Save what the kernel's home holds into the user's files now.",
                {"200": {"description": "saved, head, conflicts."}, **errors(404, 413)},
            ),
        },
    }


def session_paths() -> dict[str, Any]:
    starts = {
        **errors(400, 413),
        "429": answer(ERRORS[429], "Error", **RETRY),
        **errors(501, 503),
    }
    return {
        "/api/sessions": {
            "get": operation("The sessions.", {"200": answer("Sessions.", "SessionList")}),
            "post": operation(
                "Create a session (or find the one at its path), with a kernel by id or name.",
                {"201": answer("Created.", "Session", Location="The session's URL."), **starts},
                requestBody=json_body("NewSession", required=True),
            ),
        },
        "/api/sessions/{session_id}": {
            "parameters": [path_parameter("session_id", "The session's id (a UUID).")],
            "get": operation(
                "One session.", {"200": answer("Its model.", "Session"), **errors(404)}
            ),
            "patch": operation(
                "Rename a session, or change its kernel.",
                {"200": answer("Changed.", "Session"), **starts, **errors(404)},
                requestBody=json_body("SessionChange", required=True),
            ),
            "delete": operation(
                "Delete a session and shut its kernel down.",
                {"204": answer("Deleted."), **errors(404)},
            ),
        },
    }


def kernelspec_paths() -> dict[str, Any]:
    image = {"schema": {"type": "string", "format": "binary"}}
    logo = {
        "description": "The logo.",
        "content": {"image/png": image, "image/svg+xml": image},
    }
    return {
        "/api/kernelspecs": {
            "get": operation("The kernel specs.", {"200": answer("Specs.", "KernelSpecs")})
        },
        "/api/kernelspecs/{name}": {
            "parameters": [path_parameter("name", "The kernel spec's name.")],
            "get": operation(
                "One kernel spec.", {"200": answer("The spec.", "KernelSpec"), **errors(404)}
            ),
        },
        "/kernelspecs/{name}/{file}": {
            "parameters": [path_parameter("name", ""), path_parameter("file", "A logo's file.")],
            "get": operation(
                "A kernel spec's resource: its logos (no token needed).",
                {"200": logo, **errors(404)},
                security=[],
            ),
        },
        "/api/status": {
            "get": operation("The server's status.", {"200": answer("Status.", "Status")})
        },
        "/api/workers": {
            "get": operation(
                "The workers this hub uses: state, sessions, capacity, memory headroom.",
                {"200": answer("Workers.", "WorkerList")},
            )
        },
        "/metrics": {
            "get": operation(
                "The hub's and its workers' metrics, in Prometheus's text format.",
                {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": STRING}}}},
            )
        },
    }


def health_paths() -> dict[str, Any]:
    """Public: a load balancer asks them without a token (hub/health_api.py)."""
    return {
        "/api/health": {
            "get": operation(
                "Whether this hub is ready: its database answers and a worker is connected.",
                {
                    "200": answer("Ready.", "Health"),
                    "503": answer("Not ready: `problems` says why.", "Health"),
                },
                security=[],
            )
        },
        "/api/health/live": {
            "get": operation(
                "Whether this hub's process answers at all.",
                {"200": answer("Live.", "Liveness")},
                security=[],
            )
        },
    }


def permalink_paths() -> dict[str, Any]:
    return {
        "/api/permalinks": {
            "post": operation(
                "Share code under a short link (the same content always gets the same id).",
                {
                    "201": answer(
                        "Stored.", "PermalinkCreated", Location="The permalink's API URL."
                    ),
                    **errors(400, 413),
                    "429": answer(ERRORS[429], "Error", **RETRY),
                },
                requestBody=json_body("NewPermalink", required=True),
            )
        },
        "/api/permalinks/{permalink_id}": {
            "get": operation(
                "The shared code (counts a view).",
                {"200": answer("The permalink.", "Permalink"), **errors(404)},
                parameters=[path_parameter("permalink_id", "")],
            )
        },
    }


def account_paths() -> dict[str, Any]:
    """The accounts API (hub/accounts_api.py), shaped like JupyterHub's."""
    name = [path_parameter("name", "The account's name.")]
    admin_action = operation(
        "An administrator's change to an account.",
        {"200": answer("The account after it.", "Account"), **errors(404)},
        parameters=name,
    )
    no_account = "The deployment token has no account."
    return {
        "/api/users/me": {"get": operation("Who is asking.", {"200": answer("The caller.", "Me")})},
        "/api/users/me/tokens": {
            "get": operation(
                "The caller's API tokens (never the tokens themselves).",
                {"200": answer("Its tokens.", "TokenList"), "400": answer(no_account, "Error")},
            ),
            "post": operation(
                "Make an API token; the answer holds it, once.",
                {"201": answer("Made.", "TokenMade"), **errors(400)},
                requestBody=json_body("NewToken", required=False),
            ),
        },
        "/api/users/me/tokens/{token_id}": {
            "delete": operation(
                "Revoke one of the caller's API tokens.",
                {"204": answer("Revoked."), **errors(400, 404)},
                parameters=[path_parameter("token_id", "")],
            )
        },
        "/api/users": {
            "get": operation("Every account.", {"200": answer("Accounts.", "AccountList")}),
            "post": operation(
                "Make an account.",
                {"201": answer("Made.", "Account"), **errors(400, 409)},
                requestBody=json_body("NewAccount", required=True),
            ),
        },
        "/api/users/invitations": {
            "post": operation(
                "A sign-up link for one account.",
                {"201": answer("Made.", "Invitation"), **errors(400)},
                requestBody=json_body("NewInvitation", required=False),
            )
        },
        **{
            f"/api/users/{{name}}/{action}": {"post": admin_action}
            for action in ("reset", "disable", "enable")
        },
    }


def document() -> dict[str, Any]:
    from cellhub.hub.contents_openapi import CONTENTS_SCHEMAS, contents_paths  # uses these helpers

    public: dict[str, Any] = {"security": []}
    paths: dict[str, Any] = {
        "/api": {
            "get": operation(
                "The server's version (no token needed).",
                {"200": answer("Version.", "Version")},
                **public,
            )
        },
        "/api/openapi.json": {
            "get": operation(
                "This description (no token needed).",
                {"200": {"description": "OpenAPI 3.0", "content": {JSON: {"schema": {}}}}},
                **public,
            )
        },
        **health_paths(),
        **kernelspec_paths(),
        **kernel_paths(),
        **session_paths(),
        **permalink_paths(),
        **account_paths(),
        **contents_paths(),
    }
    for item in paths.values():
        for method, op in item.items():
            if method != "parameters" and "security" not in op:
                op["responses"]["403"] = answer(ERRORS[403], "Error")
    return {
        "openapi": "3.0.3",
        "info": {"title": "cellhub", "version": cellhub.__version__},
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, **CONTENTS_SCHEMAS}, "securitySchemes": SECURITY},
        "security": [{"token": []}, {"token_query": []}],
    }


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


STRING = {"type": "string"}
ANY_OBJECT = {"type": "object"}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
NULLABLE_COUNT = {"type": "integer", "minimum": 0, "nullable": True}
SCHEMAS: dict[str, Any] = {
    "Error": obj(["message"], message=STRING, reason={"type": "string", "nullable": True}),
    "Version": obj(["version"], version=STRING),
    "Kernel": obj(
        ["id", "name", "last_activity", "execution_state", "connections"],
        id={"type": "string", "format": "uuid"},
        name=STRING,
        last_activity={"type": "string", "format": "date-time"},
        execution_state=STRING,
        connections={"type": "integer", "minimum": 0},
    ),
    "KernelList": {"type": "array", "items": ref("Kernel")},
    "StartKernel": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Default: python3."},
            "files": {
                "type": "array",
                "items": STRING,
                "description": "URLs of data files, from the origins in data_origins, put "
                "in the kernel's working directory before the start is answered.",
            },
        },
    },
    "KernelSpec": obj(
        ["name", "spec", "resources"],
        name=STRING,
        resources=ANY_OBJECT,
        spec=obj(
            ["argv", "display_name", "language"],
            argv={"type": "array", "items": STRING},
            display_name=STRING,
            language=STRING,
            interrupt_mode=STRING,
            env=ANY_OBJECT,
            metadata=ANY_OBJECT,
        ),
    ),
    "KernelSpecs": obj(
        ["default", "kernelspecs"],
        default=STRING,
        kernelspecs={"type": "object", "additionalProperties": ref("KernelSpec")},
    ),
    "Session": obj(
        ["id", "path", "name", "type", "kernel"],
        id={"type": "string", "format": "uuid"},
        path=STRING,
        name=STRING,
        type=STRING,
        kernel=ref("Kernel"),
        notebook=obj(["path", "name"], path=STRING, name=STRING),
    ),
    "SessionList": {"type": "array", "items": ref("Session")},
    "NewSession": obj(
        ["path", "type"],
        path=STRING,
        name=STRING,
        type=STRING,
        kernel=ref("KernelChoice"),
    ),
    "SessionChange": {
        "type": "object",
        "properties": {
            "path": STRING,
            "name": STRING,
            "type": STRING,
            "kernel": ref("KernelChoice"),
        },
    },
    "KernelChoice": {
        "type": "object",
        "description": "An existing kernel by id, else a new one by name (default python3).",
        "properties": {"id": STRING, "name": STRING},
    },
    "Status": obj(
        ["started", "last_activity", "kernels", "connections"],
        started={"type": "string", "format": "date-time"},
        last_activity={"type": "string", "format": "date-time"},
        kernels={"type": "integer", "minimum": 0},
        connections={"type": "integer", "minimum": 0},
    ),
    "Worker": obj(
        ["name", "address", "state", "weight", "connected", "sessions", "capacity", "free"],
        name=STRING,
        address=STRING,
        state={"type": "string", "enum": ["active", "draining", "removed-draining"]},
        weight={"type": "number", "exclusiveMinimum": True, "minimum": 0},
        connected={"type": "boolean"},
        sessions=NULLABLE_COUNT,
        capacity=NULLABLE_COUNT,
        free=NULLABLE_COUNT,
        spares={**NULLABLE_COUNT, "description": "Sessions ready, of every kernel kind."},
        memory={**NULLABLE_COUNT, "description": "Bytes of headroom (null: unknown)."},
        drained_by_admin={"type": "boolean", "description": "Drained from the admin view."},
    ),
    "WorkerList": {"type": "array", "items": ref("Worker")},
    "Health": obj(
        ["ready", "database", "workers", "problems"],
        ready={"type": "boolean"},
        database={"type": "boolean", "description": "Whether the database answered."},
        workers=obj(
            ["connected", "known"],
            connected={"type": "integer", "minimum": 0},
            known={"type": "integer", "minimum": 0},
        ),
        problems={"type": "array", "items": STRING},
    ),
    "Liveness": obj(["live"], live={"type": "boolean"}),
    "NewPermalink": obj(
        ["code"],
        code=STRING,
        kernel_name={"type": "string", "maxLength": 64},
        interact_state={"description": "Any JSON: the interact controls' values."},
    ),
    "PermalinkCreated": obj(["id", "url"], id=STRING, url=STRING),
    "Permalink": obj(
        ["id", "url", "code", "kernel_name", "interact_state", "created", "views"],
        id=STRING,
        url=STRING,
        code=STRING,
        kernel_name=STRING,
        interact_state={"nullable": True},
        created={"type": "string", "format": "date-time"},
        views={"type": "integer", "minimum": 0},
        last_access=NULLABLE_TIME,
    ),
    **{
        "Account": obj(
            ["name", "admin", "group", "disabled", "created", "last_activity"],
            name=STRING,
            admin={"type": "boolean"},
            group=STRING,
            disabled={"type": "boolean"},
            created={"type": "string", "format": "date-time"},
            last_activity=NULLABLE_TIME,
        ),
        "AccountList": {"type": "array", "items": ref("Account")},
        "Me": obj(
            ["name", "admin", "scopes"],
            name=STRING,
            admin={"type": "boolean"},
            scopes={"type": "array", "items": STRING},
        ),
        "NewAccount": obj(
            ["name"],
            name=STRING,
            admin={"type": "boolean"},
            group=STRING,
            password={"type": "string", "nullable": True},
        ),
        "Token": obj(
            ["id", "prefix", "note", "scopes", "created", "expires_at", "last_activity"],
            id=STRING,
            prefix=STRING,
            note=STRING,
            scopes={"type": "array", "items": STRING},
            created={"type": "string", "format": "date-time"},
            expires_at=NULLABLE_TIME,
            last_activity=NULLABLE_TIME,
        ),
        "TokenList": obj(["api_tokens"], api_tokens={"type": "array", "items": ref("Token")}),
        "TokenMade": {"allOf": [ref("Token"), obj(["token"], token=STRING)]},
        "NewToken": {
            "type": "object",
            "properties": {
                "note": STRING,
                "scopes": {"type": "array", "items": {"enum": ["kernels", "files", "admin"]}},
                "expires_in": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
            },
        },
        "NewInvitation": {"type": "object", "properties": {"admin": {"type": "boolean"}}},
        "Invitation": obj(
            ["url", "role", "expires_in"],
            url=STRING,
            role={"type": "string", "enum": ["user", "admin"]},
            expires_in={"type": "number"},
        ),
    },
}
SECURITY = {
    "token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`token <TOKEN>` (or `Bearer <TOKEN>`).",
    },
    "token_query": {"type": "apiKey", "in": "query", "name": "token"},
}
DOCUMENT = document()


async def openapi_json(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
