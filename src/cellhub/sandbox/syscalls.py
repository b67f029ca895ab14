"""The Linux system calls the sandbox needs and Python's ``os`` module lacks.

``open_tree``, ``move_mount`` and ``mount_setattr`` (Linux ≥ 5.12) have the
same numbers on every architecture, since they were added after the syscall
tables were unified.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8

SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442

PR_SET_DUMPABLE = 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(result: int, what: str, path: str | None = None) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return result


def _path(path: str | os.PathLike[str] | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), "prctl")


def prctl_pointer(option: int, arg: int, pointer: int) -> None:
    """``prctl(option, arg, pointer)``, for the options that take an address."""
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_void_p(pointer), 0, 0), "prctl")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def sethostname(name: str) -> None:
    encoded = name.encode()
    _check(_libc.sethostname(encoded, len(encoded)), "sethostname")


def mount(
    source: str | os.PathLike[str] | None,
    target: str | os.PathLike[str],
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    result = _libc.mount(
        _path(source),
        _path(target),
        None if fstype is None else fstype.encode(),
        flags,
        None if data is None else data.encode(),
    )
    _check(result, "mount", os.fspath(target))


def open_tree_clone(path: str | os.PathLike[str]) -> int:
    """A detached copy of the mount tree at ``path``, as a file descriptor."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE
    result = _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, _path(path), ctypes.c_uint(flags))
    return _check(result, "open_tree", os.fspath(path))


def move_mount(tree: int, target: str | os.PathLike[str]) -> None:
    """Attach a tree from :func:`open_tree_clone` at ``target``."""
    result = _libc.syscall(
        SYS_MOVE_MOUNT,
        tree,
        b"",
        AT_FDCWD,
        _path(target),
        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
    )
    _check(result, "move_mount", os.fspath(target))


def mount_setattr(
    where: str | os.PathLike[str] | int, attr_set: int, *, recursive: bool = False
) -> None:
    """Set per-mount flags (``MOUNT_ATTR_*``) on a path or on a tree file descriptor."""
    attr = _MountAttr(attr_set, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    if isinstance(where, int):
        dfd, path, flags = where, b"", flags | AT_EMPTY_PATH
    else:
        dfd, path = AT_FDCWD, os.fsencode(where)
    result = _libc.syscall(
        SYS_MOUNT_SETATTR,
        dfd,
        path,
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(result, "mount_setattr", None if isinstance(where, int) else os.fspath(where))


def has_mount_api() -> bool:
    """Whether the kernel has ``mount_setattr`` (and so ``open_tree`` and ``move_mount``)."""
    attr = _MountAttr(0, 0, 0, 0)
    result = _libc.syscall(
        SYS_MOUNT_SETATTR, -1, b"", ctypes.c_uint(AT_EMPTY_PATH), ctypes.byref(attr), 32
    )
    return result == 0 or ctypes.get_errno() != 38  # ENOSYS
