"""The kernel specs, as Jupyter Server serves them: ``/api/kernelspecs``, one spec by name,
and each spec's resources (its logos) at ``/kernelspecs/{name}/{file}``.

cellhub has one kind of kernel, ``python3``. Its logos are ipykernel's (the Python logo,
BSD-3-Clause, shipped as package data in ``hub/kernelspec/``), so that JupyterLab's
launcher and kernel menus show what they show for ipykernel. The resources are public,
like ``/static``: they say nothing about the deployment, and browsers load them as images,
without the token.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.json_api import error
from cellhub.hub.kernels import KERNEL_NAME

RESOURCES = Path(__file__).with_name("kernelspec")
LOGOS = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")
#: Browsers may keep a logo for 30 days, as Jupyter Server lets them.
LOGO_CACHE = f"max-age={60 * 60 * 24 * 30}"


def spec_model(name: str) -> dict[str, Any]:
    """A spec as Jupyter Server's ``kernelspec_model`` returns it, resources by URL."""
    spec = {
        "argv": [sys.executable, "-m", "cellhub.template.process"],
        "display_name": "Python 3 (cellhub)",
        "language": "python",
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {"debugger": False},
    }
    resources = {logo.rsplit(".", 1)[0]: f"/kernelspecs/{name}/{logo}" for logo in LOGOS}
    return {"name": name, "spec": spec, "resources": resources}


def not_found(name: str) -> JSONResponse:
    return error(404, f"Kernel spec {name} not found")


async def kernelspecs(request: Request) -> Response:
    return JSONResponse(
        {"default": KERNEL_NAME, "kernelspecs": {KERNEL_NAME: spec_model(KERNEL_NAME)}}
    )


async def kernelspec(request: Request) -> Response:
    name = request.path_params["name"]
    return JSONResponse(spec_model(name)) if name == KERNEL_NAME else not_found(name)


async def resource(request: Request) -> Response:
    name, file = request.path_params["name"], request.path_params["file"]
    if name != KERNEL_NAME:
        return not_found(name)
    if file not in LOGOS:
        return error(404, "Not found")
    return FileResponse(RESOURCES / file, headers={"Cache-Control": LOGO_CACHE})


ROUTES = [
    Guarded(Access.ANONYMOUS, Route("/api/kernelspecs", kernelspecs, methods=["GET"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernelspecs/{name}", kernelspec, methods=["GET"])),
    Guarded(Access.ANYONE, Route("/kernelspecs/{name}/{file}", resource, methods=["GET", "HEAD"])),
]
