"""nginx as deploy/render.py configures it (``cellhub render nginx``), serving the package's
static folder: every kind of file the package ships with its type, the hub's security
headers, a year's caching for addresses that name their content and revalidation for the
rest, compression when asked, nothing outside ``/static/``; and behind HAProxy, which sends
``/static/`` to it and everything else to the hubs.
"""

from __future__ import annotations

import gzip
import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cellhub.deploy.render import (
    STATIC_TYPES,
    Endpoint,
    LoadBalancer,
    Server,
    StaticServer,
    installed_brotli,
    nginx_argv,
    render_nginx,
)
from cellhub.hub.security_headers import OTHER_POLICY
from cellhub.hub.static_files import STATIC_DIR, versioned_url
from tests.conftest import RunningHub, stop
from tests.db.postgres import free_port
from tests.deploy.haproxy import needs_haproxy, start_haproxy
from tests.deploy.nginx import NGINX, needs_nginx, running_nginx
from tests.polling import until

YEAR = "public, max-age=31536000, immutable"
SHIPPED = sorted(path.relative_to(STATIC_DIR) for path in STATIC_DIR.rglob("*") if path.is_file())
FONTS = [path for path in SHIPPED if path.parts[0] == "fonts"]
needs_brotli = pytest.mark.skipif(
    not installed_brotli(), reason="apt-get install libnginx-mod-http-brotli-filter (-static)"
)


def test_every_kind_of_shipped_file_has_its_type() -> None:
    """A new kind of file in the static folder fails here until STATIC_TYPES names it."""
    assert SHIPPED, "the front end is not built (npm run build in frontend/)"
    assert {path.suffix.removeprefix(".") for path in SHIPPED} <= set(STATIC_TYPES)


@needs_nginx
@pytest.mark.parametrize("brotli", [False, True], ids=["gzip", "brotli"])
def test_nginx_accepts_the_rendered_configuration(tmp_path: Path, brotli: bool) -> None:
    if brotli and not installed_brotli():
        pytest.skip("Debian's brotli modules for nginx are not installed")
    argv = [sys.executable, "-m", "cellhub", "render", "nginx", "--bind", "127.0.0.1:8081"]
    argv += ["--run-dir", str(tmp_path), *([] if brotli else ["--no-brotli"])]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("brotli on;" in done.stdout) == brotli
    server = StaticServer(Endpoint("127.0.0.1", 8081), tmp_path, modules=())
    server.config.write_text(done.stdout)
    assert NGINX is not None
    checked = subprocess.run([*nginx_argv(server, NGINX), "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr + done.stdout
    assert "[warn]" not in checked.stderr


def test_paths_that_would_break_out_of_the_configuration_are_refused(tmp_path: Path) -> None:
    bind = Endpoint("127.0.0.1", 8081)
    for bad in (tmp_path / "a b", tmp_path / "x;user root", Path("relative")):
        with pytest.raises(ValueError):
            StaticServer(bind, bad, modules=())
        with pytest.raises(ValueError):
            StaticServer(bind, tmp_path, bad, modules=())
    assert f"alias {STATIC_DIR}/;" in render_nginx(StaticServer(bind, tmp_path, modules=()))


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield f"http://{server.bind}"


def test_each_shipped_file_comes_with_its_type_and_the_hubs_headers(nginx: str) -> None:
    with httpx.Client(base_url=nginx) as http:
        for path in SHIPPED:
            response = http.get(f"/static/{path}", headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200, path
            assert response.content == (STATIC_DIR / path).read_bytes(), path
            kind = STATIC_TYPES[path.suffix.removeprefix(".")]
            charset = "; charset=utf-8" if kind != "font/woff2" else ""
            assert response.headers["content-type"] == kind + charset, path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["content-security-policy"] == OTHER_POLICY
            assert response.headers["access-control-allow-origin"] == "*"


def test_addresses_that_name_their_content_are_kept_a_year(nginx: str) -> None:
    assert FONTS
    with httpx.Client(base_url=nginx) as http:
        for font in FONTS:
            assert http.get(f"/static/{font}").headers["cache-control"] == YEAR
        for name in ("app.js", "app.css", "favicon.svg"):
            assert "?v=" in versioned_url(name)
            assert http.get(versioned_url(name)).headers["cache-control"] == YEAR
            assert http.get(f"/static/{name}").headers["cache-control"] == "no-cache"
        assert http.get("/static/embed.js").headers["cache-control"] == "no-cache"
        missing = http.get("/static/fonts/Gone-ABCDEFGH.woff2?v=1")
        assert missing.status_code == 404 and "cache-control" not in missing.headers


def raw_get(http: httpx.Client, path: str, encoding: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent, not decoded."""
    with http.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize("encoding", ["gzip", pytest.param("br", marks=needs_brotli)])
def test_text_is_compressed_when_asked(nginx: str, encoding: str) -> None:
    shipped = (STATIC_DIR / "app.js").read_bytes()
    with httpx.Client(base_url=nginx) as http:
        response, body = raw_get(http, "/static/app.js", encoding)
        assert response.headers["content-encoding"] == encoding
        assert response.headers["vary"] == "Accept-Encoding"
        assert len(body) < len(shipped) / 3
        if encoding == "gzip":
            assert gzip.decompress(body) == shipped
        plain, body = raw_get(http, "/static/app.js", "identity")
        assert "content-encoding" not in plain.headers and body == shipped
        font, body = raw_get(http, f"/static/{FONTS[0]}", encoding)
        assert font.headers["content-type"] == "font/woff2"
        assert "content-encoding" not in font.headers  # compressed already


TRAVERSALS = [
    "/static/../__init__.py",
    "/static/fonts/../../__init__.py",
    "/static/..%2f__init__.py",
    "/static/%2e%2e/__init__.py",
    "/static/%2E%2E%2F__init__.py",
    "/static/.%2e/__init__.py",
    "/static/..\\__init__.py",
    "/static/%252e%252e/__init__.py",
    "/static../__init__.py",
    "/static/../../../../etc/passwd",
]


@pytest.mark.parametrize("path", ["/", "/api/kernels", "/static", "/s/abc", *TRAVERSALS])
def test_nothing_outside_the_static_folder_is_served(nginx: str, path: str) -> None:
    """Paths sent as they are (http.client normalizes nothing): nginx resolves dot segments,
    encoded or not, before it matches ``/static/``, and serves nothing else."""
    where = urlsplit(nginx)
    connection = http.client.HTTPConnection(where.hostname or "", where.port)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in (400, 404), (path, response.status)
    assert b"__version__" not in body and b"root:" not in body


def test_only_reading_is_allowed(nginx: str) -> None:
    with httpx.Client(base_url=nginx) as http:
        assert http.head("/static/app.js").status_code == 200
        for method in ("POST", "PUT", "DELETE"):
            assert http.request(method, "/static/app.js").status_code == 403, method


def endpoint(hub: RunningHub) -> Endpoint:
    where = urlsplit(hub.url)
    assert where.hostname is not None and where.port is not None
    return Endpoint(where.hostname, where.port)


@needs_haproxy
async def test_haproxy_sends_static_files_to_nginx_and_the_rest_to_the_hub(
    cellhub_server: RunningHub, tmp_path: Path
) -> None:
    """And while nginx is down, the hub serves them."""
    auth = {"Authorization": f"token {cellhub_server.token}"}
    with running_nginx(tmp_path / "nginx") as nginx:
        balancer = LoadBalancer(
            [Server("hub1", endpoint(cellhub_server))],
            bind=Endpoint("127.0.0.1", free_port()),
            stats=Endpoint("127.0.0.1", free_port()),
            static=nginx.bind,
        )
        haproxy = start_haproxy(balancer, tmp_path / "haproxy")
        try:
            async with httpx.AsyncClient(base_url=haproxy.url, headers=auth) as http:
                await until(lambda: served_by(http, "/api/health", "uvicorn"), "hub up", 30)
                static = await http.get(versioned_url("app.js"))
                assert static.status_code == 200 and static.headers["server"] == "nginx"
                assert static.headers["cache-control"] == YEAR
                api = await http.get("/api/kernels")
                assert api.status_code == 200 and api.json() == []
                assert api.headers["server"] == "uvicorn"
                escaped = await http.get("/static/%2e%2e/api/kernels")
                assert escaped.status_code in (400, 404) and escaped.headers["server"] == "nginx"
        except BaseException:
            stop(haproxy.process, timeout=10)
            raise
    try:
        async with httpx.AsyncClient(base_url=haproxy.url) as http:
            await until(lambda: served_by(http, "/static/app.js", "uvicorn"), "the hub's", 30)
    finally:
        stop(haproxy.process, timeout=10)


async def served_by(http: httpx.AsyncClient, path: str, server: str) -> bool:
    response = await http.get(path)
    return response.status_code == 200 and response.headers.get("server") == server
