"""The contents API and a worksheet's history in the hub's OpenAPI description (hub/openapi.py
serves the whole): Jupyter Server's contents paths and models (hub/contents_api.py), and the
history routes beside them (hub/worksheets_api.py), so that the REST fuzzer checks them too.
"""

from __future__ import annotations

from typing import Any

from cellhub.hub.openapi import answer, json_body, obj, operation, path_parameter, ref

CONTENT_ERRORS = {
    400: "A bad request: an invalid or hidden path, a body that is not what the operation "
    "takes, an invalid notebook, a binary file asked for as text.",
    404: "No such file, folder, version or checkpoint.",
    409: "The target exists already, or (If-Match) the worksheet was saved since that version.",
    413: "The notebook is larger than worksheet_max_size, or the user's files would be over "
    "user_files_quota (the message names it).",
}
SAVED_HEADERS = {
    "Location": "The entry's URL path.",
    "ETag": "The worksheet's version, for If-Match.",
}


def failures(*statuses: int) -> dict[str, Any]:
    return {str(status): answer(CONTENT_ERRORS[status], "Error") for status in statuses}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


FLAG = {"type": "string", "enum": ["0", "1"]}
GET_QUERY = [
    query("type", {"type": "string"}, "notebook, directory or file (another: file)."),
    query("format", {"type": "string", "enum": ["text", "base64"]}, "For a file."),
    query("content", FLAG, "0: the model without its content."),
    query("hash", FLAG, "1: with hash and hash_algorithm (sha256)."),
]
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": {"type": "string"},
    "description": "The version (ETag) the save is based on; 409 when it is not the current.",
}
PATH = [path_parameter("path", "A path of the user's contents, names joined by /.")]


def model(description: str, status: str = "200") -> dict[str, Any]:
    headers = SAVED_HEADERS if status == "201" else {"ETag": SAVED_HEADERS["ETag"]}
    return {status: answer(description, "ContentsModel", **headers)}


def entry_operations() -> dict[str, Any]:
    return {
        "get": operation(
            "A folder's listing, or a notebook's or a file's model.",
            {**model("The model."), **failures(400, 404)},
            parameters=GET_QUERY,
        ),
        "put": operation(
            "Save a notebook, upload a file (whole, or a chunk), or make a folder, at this path.",
            {**model("Saved over."), **model("Created.", "201"), **failures(400, 404, 409, 413)},
            parameters=[IF_MATCH],
            requestBody=json_body("ContentsSave", required=False),
        ),
        "post": operation(
            "A new untitled notebook, file or folder in this folder, or a copy (copy_from).",
            {**model("Created.", "201"), **failures(400, 404, 409)},
            requestBody=json_body("ContentsNew", required=False),
        ),
        "patch": operation(
            "Rename or move.",
            {**model("Renamed."), **failures(400, 404, 409)},
            requestBody=json_body("ContentsRename", required=True),
        ),
        "delete": operation(
            "Delete (a folder with all it holds).",
            {"204": answer("Deleted."), **failures(400, 404)},
        ),
    }


def checkpoint_paths() -> dict[str, Any]:
    one = path_parameter("checkpoint_id", "")
    return {
        "/api/contents/{path}/checkpoints": {
            "parameters": PATH,
            "get": operation(
                "The checkpoints (versions kept on purpose).",
                {"200": answer("Checkpoints.", "CheckpointList"), **failures(404)},
            ),
            "post": operation(
                "Keep the current version as a checkpoint.",
                {
                    "201": answer("Made.", "Checkpoint", Location="Its URL path."),
                    **failures(400, 404),
                },
            ),
        },
        "/api/contents/{path}/checkpoints/{checkpoint_id}": {
            "parameters": [*PATH, one],
            "post": operation(
                "Restore the checkpoint (saved as the newest version).",
                {"204": answer("Restored."), **failures(400, 404)},
            ),
            "delete": operation(
                "Delete the checkpoint.", {"204": answer("Deleted."), **failures(400, 404)}
            ),
        },
    }


def history_paths() -> dict[str, Any]:
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/api/worksheets/history/{path}": {
            "get": operation(
                "A worksheet's versions, newest first.",
                {"200": answer("The history.", "History"), **failures(400, 404)},
                parameters=PATH,
            )
        },
        "/api/worksheets/versions/{number}/{path}": {
            "get": operation(
                "A version of a worksheet.",
                {"200": answer("The version.", "ContentsModel"), **failures(400, 404)},
                parameters=[number, *PATH],
            )
        },
        "/api/worksheets/restore/{number}/{path}": {
            "post": operation(
                "Save a version as the newest.",
                {**model("Restored."), **failures(400, 404, 409)},
                parameters=[number, *PATH, IF_MATCH],
            )
        },
    }


def contents_paths() -> dict[str, Any]:
    entry = entry_operations()
    return {
        "/api/contents": {"get": entry["get"], "post": entry["post"]},
        "/api/contents/{path}": {"parameters": PATH, **entry},
        **checkpoint_paths(),
        **history_paths(),
        "/files/{path}": {
            "parameters": PATH,
            "get": operation(
                "Download a file of the user's (never rendered on the hub's origin).",
                {"200": {"description": "The file's bytes."}, **failures(404)},
                parameters=[query("download", FLAG, "1: always as an attachment.")],
            ),
        },
    }


NULLABLE_STRING = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
CONTENTS_SCHEMAS: dict[str, Any] = {
    "ContentsModel": obj(
        [
            "name",
            "path",
            "type",
            "created",
            "last_modified",
            "content",
            "format",
            "mimetype",
            "size",
            "writable",
        ],
        name={"type": "string"},
        path={"type": "string"},
        type={"type": "string", "enum": ["notebook", "directory", "file"]},
        created=TIME,
        last_modified=TIME,
        content={"nullable": True},
        format=NULLABLE_STRING,
        mimetype=NULLABLE_STRING,
        size={"type": "integer", "minimum": 0, "nullable": True},
        writable={"type": "boolean"},
        hash={"type": "string"},
        hash_algorithm={"type": "string"},
    ),
    "ContentsSave": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "content": {},
            "format": {"type": "string"},
            "chunk": {"type": "integer"},
        },
    },
    "ContentsNew": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "ext": {"type": "string"},
            "copy_from": {"type": "string"},
        },
    },
    "ContentsRename": obj(["path"], path={"type": "string"}),
    "Checkpoint": obj(["id", "last_modified"], id={"type": "string"}, last_modified=TIME),
    "CheckpointList": {"type": "array", "items": ref("Checkpoint")},
    "History": obj(
        ["current", "versions"],
        current={"type": "integer", "minimum": 0},
        versions={
            "type": "array",
            "items": obj(
                ["number", "created", "size", "checkpoint"],
                number={"type": "integer"},
                created=TIME,
                size={"type": "integer"},
                checkpoint={"type": "boolean"},
            ),
        },
    ),
}
