"""The kernel specs, as Jupyter Server serves them: ``/api/kernelspecs``, one spec by name,
and each spec's resources (its logos) at ``/kernelspecs/{name}/{file}``.

One spec per kernel kind the connected workers offer (:mod:`cellhub.hub.kernel_offer`):
``python3`` always, ``sage`` where workers have Sage. ``python3``'s logos are ipykernel's
(the Python logo, BSD-3-Clause, shipped as package data in ``hub/kernelspec/``), so that
JupyterLab's launcher and kernel menus show what they show for ipykernel; ``sage``'s are
those passagemath installs for its own Jupyter kernel, served from the Sage installed
beside the hub (none where Sage is installed on the workers only). The resources are
public, like ``/static``: they say nothing about the deployment, and browsers load them as
images, without the token.
"""

from __future__ import annotations

import sys
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.json_api import error
from cellhub.hub.kernel_offer import offered_kinds
from cellhub.hub.kernels import KERNEL_NAME, KernelService
from cellhub.kernel_kinds import KINDS

#: Browsers may keep a logo for 30 days, as Jupyter Server lets them.
LOGO_CACHE = f"max-age={60 * 60 * 24 * 30}"


def spec_model(name: str) -> dict[str, Any]:
    """A spec as Jupyter Server's ``kernelspec_model`` returns it, resources by URL."""
    kind = KINDS[name]
    spec = {
        "argv": [sys.executable, "-m", "cellhub.template.process"],
        "display_name": kind.display_name,
        "language": kind.language,
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {"debugger": False},
    }
    resources = {
        file.rsplit(".", 1)[0]: f"/kernelspecs/{name}/{file}" for file in kind.logo_files()
    }
    return {"name": name, "spec": spec, "resources": resources}


def offered(request: Request) -> list[str]:
    kernels: KernelService = request.app.state.kernels
    return offered_kinds(kernels.links.values())


def not_found(name: str) -> JSONResponse:
    return error(404, f"Kernel spec {name} not found")


async def kernelspecs(request: Request) -> Response:
    names = offered(request)
    return JSONResponse(
        {
            "default": KERNEL_NAME if KERNEL_NAME in names else names[0],
            "kernelspecs": {name: spec_model(name) for name in names},
        }
    )


async def kernelspec(request: Request) -> Response:
    name = request.path_params["name"]
    return JSONResponse(spec_model(name)) if name in offered(request) else not_found(name)


async def resource(request: Request) -> Response:
    name, file = request.path_params["name"], request.path_params["file"]
    if name not in KINDS:
        return not_found(name)
    path = KINDS[name].logo_files().get(file)
    if path is None:
        return error(404, "Not found")
    return FileResponse(path, headers={"Cache-Control": LOGO_CACHE})


ROUTES = [
    Guarded(Access.ANONYMOUS, Route("/api/kernelspecs", kernelspecs, methods=["GET"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernelspecs/{name}", kernelspec, methods=["GET"])),
    Guarded(Access.ANYONE, Route("/kernelspecs/{name}/{file}", resource, methods=["GET", "HEAD"])),
]
