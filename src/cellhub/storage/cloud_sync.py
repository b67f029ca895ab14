"""A user's cloud folder (Dropbox, Google Drive, S3, WebDAV) synced with a folder of their
files, through rclone: the transfers, the providers' protocols and their OAuth token
refreshes are rclone's, a tool made and kept for exactly this; here is only what decides
what rclone may be asked.

A sync goes one way at a time, and says which: **pull** makes the folder of the user's files
a copy of the cloud folder (one commit, so the files' history keeps what it replaced), and
**push** makes the cloud folder a copy of the user's folder. Neither touches names that start
with a dot on either side (the user's files hide them, as the contents API does). A push
from a folder that is empty or missing is refused rather than emptying the cloud folder.

What a user may make the hub's rclone do is bounded, as a user's settings are hostile:

- only the kinds in :data:`KINDS` (no ``local``, ``alias``, ``union`` or other backend that
  reaches the hub's own disk), and only the options each kind lists;
- a URL option (WebDAV's ``url``, S3's ``endpoint``) only at an origin the deployment lists
  in ``cloud_origins``, so that no user makes the hub a client of its own network; Dropbox,
  Google Drive and S3 without an endpoint reach only their providers' fixed addresses;
- rclone runs with a configuration file of that one remote in a private temporary folder
  (mode 0600, deleted after), an environment of ``PATH`` alone (no proxy, no other config),
  at most ``timeout`` seconds, and a pull transfers at most the user's quota;
- secrets reach rclone through that file, never its command line; a WebDAV password is
  kept in rclone's obscured form, and a token rclone refreshed during a sync is kept.

Blocking: the hub calls :func:`pull` and :func:`push` in a thread.
"""

from __future__ import annotations

import configparser
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from cellhub.db.cloud_remotes import Remote
from cellhub.storage.git_bundles import Change, Delete, Put
from cellhub.storage.user_files import Snapshot, UserFiles, amount

#: Longest value of one option (a Google Drive token is about 400 characters).
MAX_VALUE = 4096
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
#: rclone's flags for every run: few retries (the user waits), hidden names left alone.
COMMON = (
    "--retries=1",
    "--low-level-retries=2",
    "--contimeout=10s",
    "--timeout=30s",
    "--log-level=ERROR",
    "--exclude=.*",
    "--exclude=.*/**",
)
PIECE = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """A kind of cloud folder: rclone's backend ``type`` and the options a user may set."""

    title: str
    settings: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    #: Options that are URLs, allowed only at the origins in ``cloud_origins``.
    urls: tuple[str, ...] = ()
    #: Options with a fixed set of values.
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Secrets rclone takes obscured (``rclone obscure``).
    obscured: tuple[str, ...] = ()


KINDS = {
    "webdav": Kind(
        "WebDAV",
        ("url", "vendor", "user"),
        ("pass",),
        required=("url",),
        urls=("url",),
        choices=(("vendor", ("other", "nextcloud", "owncloud", "sharepoint")),),
        obscured=("pass",),
    ),
    "s3": Kind(
        "S3",
        ("provider", "region", "endpoint", "access_key_id"),
        ("secret_access_key",),
        required=("access_key_id", "secret_access_key"),
        urls=("endpoint",),
        choices=(("provider", ("AWS", "Ceph", "Cloudflare", "DigitalOcean", "Minio", "Other")),),
    ),
    "dropbox": Kind("Dropbox", (), ("token",), required=("token",)),
    "drive": Kind(
        "Google Drive",
        ("scope",),
        ("token",),
        required=("token",),
        choices=(("scope", ("drive", "drive.file", "drive.readonly")),),
    ),
}
#: What a token option holds: the JSON ``rclone authorize`` prints.
TOKENS = ("token",)


class CloudFailed(Exception):
    """A sync or a link that did not happen; ``status`` is the HTTP answer that says so."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Synced:
    """What a sync did: files written (pull: into the user's files; push: sent), their
    bytes, and files removed from the user's folder (pull)."""

    files: int
    size: int
    removed: int = 0


def rclone_path() -> str | None:
    return shutil.which("rclone")


def checked_settings(
    kind: str, given: dict[str, object], kept: dict[str, str], origins: list[str]
) -> dict[str, str]:
    """The options to store for a remote of ``kind``: ``given`` checked, with the secrets it
    leaves out taken from ``kept`` (the stored ones); :class:`CloudFailed` (400) says what
    is wrong."""
    spec = KINDS.get(kind)
    if spec is None:
        raise CloudFailed(400, f"unknown kind {kind!r}; one of: {', '.join(KINDS)}")
    unknown = set(given) - set(spec.settings) - set(spec.secrets)
    if unknown:
        raise CloudFailed(400, f"{spec.title} has no option {sorted(unknown)[0]!r}")
    settings = {key: kept[key] for key in spec.secrets if key in kept}
    for key, value in given.items():
        if not isinstance(value, str) or len(value) > MAX_VALUE or not plain(value):
            raise CloudFailed(
                400, f"option {key!r} must be one line of at most {MAX_VALUE} characters"
            )
        if value and key in spec.obscured:
            value = obscure(value)
        if value:
            settings[key] = value
        else:
            settings.pop(key, None)
    check_values(spec, settings, origins)
    return settings


def plain(text: str) -> bool:
    """No control character: a line break would start another option in rclone's file."""
    return not any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_values(spec: Kind, settings: dict[str, str], origins: list[str]) -> None:
    for key in spec.required:
        if not settings.get(key):
            raise CloudFailed(400, f"{spec.title} needs {key!r}")
    for key, allowed in spec.choices:
        if key in settings and settings[key] not in allowed:
            raise CloudFailed(400, f"{key!r} must be one of: {', '.join(allowed)}")
    for key in spec.urls:
        if key in settings:
            check_origin(key, settings[key], origins)
    for key in TOKENS:
        if key in settings:
            check_token(settings[key])


def check_origin(key: str, url: str, origins: list[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CloudFailed(400, f"{key!r} must be an http or https URL")
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin not in {allowed.rstrip("/").lower() for allowed in origins}:
        raise CloudFailed(
            400,
            f"this hub syncs only with the servers its deployment lists in cloud_origins, "
            f"and {origin} is not one of them",
        )


def check_token(token: str) -> None:
    try:
        parsed = json.loads(token)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or "access_token" not in parsed:
        raise CloudFailed(
            400, "the token must be the JSON that `rclone authorize` printed on your machine"
        )


def obscure(secret: str) -> str:
    """``secret`` in rclone's obscured form (read from stdin: no command line shows it)."""
    done = run_rclone(["obscure", "-"], None, 30.0, stdin=secret)
    return done.strip()


def check_remote_path(path: str) -> str:
    path = path.strip().strip("/")
    if len(path) > 1024 or not plain(path):
        raise CloudFailed(400, "the cloud folder's path must be at most 1024 plain characters")
    return path


def run_rclone(
    args: list[str], config: Path | None, timeout: float, stdin: str | None = None
) -> str:
    """rclone's output; :class:`CloudFailed` with rclone's own words when it fails."""
    binary = rclone_path()
    if binary is None:
        raise CloudFailed(503, "cloud sync needs rclone on the hub (Debian: apt install rclone)")
    home = str(config.parent if config else tempfile.gettempdir())
    config_flag = [f"--config={config}"] if config else []
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": home, "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [binary, *config_flag, *args],
            input=(stdin or "").encode(),
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        took = f"the sync took longer than cloud_sync_timeout ({timeout:g} s)"
        raise CloudFailed(504, took) from None
    if done.returncode != 0:
        raise CloudFailed(502, f"rclone: {rclone_words(done.stderr.decode(errors='replace'))}")
    return done.stdout.decode(errors="replace")


def rclone_words(stderr: str) -> str:
    """The last few of rclone's error lines, without their time stamps."""
    lines = [re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line) for line in stderr.splitlines()]
    kept = [line.strip() for line in lines if line.strip()][-3:]
    return "; ".join(kept) or "failed without saying why"


def write_config(folder: Path, remote: Remote) -> Path:
    """An rclone configuration of this one remote, named ``cloud``, readable by us alone."""
    parser = configparser.ConfigParser(interpolation=None)
    parser["cloud"] = {"type": remote.kind, **remote.settings}
    if remote.kind == "s3":
        parser["cloud"]["env_auth"] = "false"
    path = folder / "rclone.conf"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        parser.write(out)
    return path


def settings_after(config: Path, remote: Remote) -> dict[str, str]:
    """The remote's settings as rclone left them (it writes a refreshed token back)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    if not parser.has_section("cloud"):
        return remote.settings
    refreshed = {key: parser["cloud"][key] for key in TOKENS if key in parser["cloud"]}
    return {**remote.settings, **refreshed}


def blob_id(path: Path) -> str:
    """The git blob id of a file's bytes, to leave unchanged files out of a commit."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()


def source_of(path: Path) -> tuple[int, Iterator[bytes]]:
    def pieces() -> Iterator[bytes]:
        with path.open("rb") as source:
            while piece := source.read(PIECE):
                yield piece

    return path.stat().st_size, pieces()


def local_files(top: Path) -> Iterator[tuple[str, Path]]:
    """The regular files under ``top`` by their path relative to it (no link followed)."""
    for folder, folders, names in os.walk(top):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                yield path.relative_to(top).as_posix(), path


def mirror_changes(snap: Snapshot, folder: str, top: Path) -> tuple[list[Change], Synced]:
    """The changes that make ``folder`` of the user's files what ``top`` holds."""
    prefix = f"{folder}/"
    had = {path: entry for path, entry in snap.files.items() if path.startswith(prefix)}
    changes: list[Change] = []
    size = 0
    seen: set[str] = set()
    for relative, path in local_files(top):
        target = prefix + relative
        seen.add(target)
        if target in had and had[target].oid == blob_id(path):
            continue
        changes.append(Put(target, source=functools.partial(source_of, path)))
        size += path.stat().st_size
    gone = [Delete(path) for path in had if path not in seen]
    return [*changes, *gone], Synced(len(changes), size, len(gone))


def pull(
    files: UserFiles, owner: str, remote: Remote, work: Path, timeout: float
) -> tuple[Remote, Synced]:
    """Make ``remote.folder`` of ``owner``'s files a copy of the cloud folder; the remote
    with its result and refreshed settings (to store), and what the pull did."""
    with tempfile.TemporaryDirectory(prefix="cloud-", dir=work) as folder:
        config = write_config(Path(folder), remote)
        top = Path(folder, "files")
        top.mkdir()
        limit = f"--max-transfer={files.quota}"
        source = f"cloud:{remote.path}"
        run_rclone(
            ["copy", *COMMON, limit, "--cutoff-mode=hard", source, str(top)], config, timeout
        )
        changes, done = mirror_changes(files.snapshot(owner), remote.folder, top)
        if changes:
            files.change(owner, changes, f"pulled from {remote.name}")
        result = f"pulled {done.files} files ({amount(done.size)}), removed {done.removed}"
        after = replace(remote, settings=settings_after(config, remote), last_result=result)
        return after, done


def push(
    files: UserFiles, owner: str, remote: Remote, work: Path, timeout: float
) -> tuple[Remote, Synced]:
    """Make the cloud folder a copy of ``remote.folder`` of ``owner``'s files."""
    with tempfile.TemporaryDirectory(prefix="cloud-", dir=work) as folder:
        config = write_config(Path(folder), remote)
        top = Path(folder, "files")
        top.mkdir()
        count, size = files.export(owner, remote.folder, top)
        if count == 0:
            raise CloudFailed(
                409,
                f"your folder {remote.folder!r} is empty or missing: a push would empty the "
                "cloud folder (pull first, or put files in it)",
            )
        run_rclone(["sync", *COMMON, str(top), f"cloud:{remote.path}"], config, timeout)
        result = f"pushed {count} files ({amount(size)})"
        after = replace(remote, settings=settings_after(config, remote), last_result=result)
        return after, Synced(count, size)
