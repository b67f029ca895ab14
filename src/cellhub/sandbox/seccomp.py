"""The system calls a session is refused: a seccomp filter, compiled once, loaded by every session.

Why: the uid, the namespaces and the cgroup all rest on the kernel, and a session
needs none of the kernel's administrative calls. Without a filter a session could
make itself root of a user namespace (``unshare -Ur``) and reach code that root
alone would otherwise reach (mounting filesystems, netfilter, BPF), or leave a key
in its uid's keyring for the next session of that uid to read. The list is modelled
on Docker's default profile: :data:`DENIED` names each call with the reason.

Contract:

- Denied calls fail with ``EPERM``, so code gets an ``OSError``, never a kill.
  ``clone`` is refused only with a namespace flag; ``clone3`` (whose flags sit in
  memory a filter cannot read) fails with ``ENOSYS``, so glibc falls back to ``clone``;
  ``personality`` only with a flag that weakens the address space layout. Calls of
  another ABI (i386 through ``int 0x80``, x32) fail with ``ENOSYS``. Everything else is
  allowed: a deny list, so that the numeric and plotting stack, subprocesses, threads
  and ``multiprocessing`` keep working, and so that calls newer than this list are not
  covered (the threat model says so).
- :func:`session_filter` compiles the program with libseccomp (``libseccomp.so.2``) at
  its first call, which ``SessionSandbox.__init__`` makes in the template: a host without
  libseccomp, or of an architecture other than x86_64 and aarch64, stops the template at
  start-up with a message, and a session pays only for :meth:`Program.load` (one ``prctl``).
- :meth:`Program.load` must run in a single-threaded process after ``PR_SET_NO_NEW_PRIVS``
  (as :func:`~cellhub.sandbox.base.finish_entering` does, last), so it needs no
  privilege and works in the rlimit fallback too. The filter is inherited by every child
  and across ``execve``, and cannot be removed.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform

from cellhub.sandbox.errors import SandboxError
from cellhub.sandbox.syscalls import prctl_pointer

#: Reason → calls refused with EPERM.
DENIED: dict[str, tuple[str, ...]] = {
    "new namespaces (a user namespace makes the session root inside it)": (
        "unshare",
        "setns",
    ),
    "keyrings, which outlive a session under its uid": ("keyctl", "add_key", "request_key"),
    "mounting and the new mount API": (
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "open_tree",
        "move_mount",
        "mount_setattr",
    ),
    "other processes' memory and file descriptors": (
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "process_madvise",
        "pidfd_getfd",
        "kcmp",
    ),
    "kernel attack surface no notebook needs": (
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "fanotify_init",
        "open_by_handle_at",
        "name_to_handle_at",
        "lookup_dcookie",
    ),
    "kernel modules and kexec": (
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "query_module",
        "get_kernel_syms",
        "kexec_load",
        "kexec_file_load",
    ),
    "administering the host": (
        "reboot",
        "acct",
        "swapon",
        "swapoff",
        "quotactl",
        "quotactl_fd",
        "syslog",
        "vhangup",
        "sethostname",
        "setdomainname",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "stime",
        "iopl",
        "ioperm",
    ),
    "obsolete calls": ("nfsservctl", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl"),
}
#: ``clone`` flags that make a new namespace (``CLONE_NEWTIME`` is clone3/unshare only).
NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
#: ``personality`` flags that weaken the address space: refused (so is the query 0xffffffff).
UNSAFE_PERSONALITY = (
    0x0040000,  # ADDR_NO_RANDOMIZE
    0x0100000,  # MMAP_PAGE_ZERO
    0x0200000,  # ADDR_COMPAT_LAYOUT
    0x0400000,  # READ_IMPLIES_EXEC
)
#: libseccomp's tokens of the architectures whose ``clone`` takes its flags first.
ARCHITECTURES = {0xC000003E: "x86_64", 0xC00000B7: "aarch64"}

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
SCMP_FLTATR_ACT_BADARCH = 2
SCMP_FLTATR_CTL_OPTIMIZE = 8
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SOCK_FILTER_SIZE = 8


def _errno_action(code: int) -> int:
    return 0x00050000 | code


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _Compiler:
    """The few libseccomp calls that build a filter and export it as BPF."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError as exc:
            raise SandboxError(
                "the seccomp filter needs libseccomp.so.2 (Debian: apt install libseccomp2); "
                "or set seccomp = false"
            ) from exc
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        self.lib = lib
        self.arch = int(lib.seccomp_arch_native())
        self.ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
        if not self.ctx:
            raise SandboxError("libseccomp could not start a filter")

    def check(self, result: int, what: str) -> None:
        if result < 0:
            raise SandboxError(f"libseccomp: {what}: {os.strerror(-result)}")

    def deny(self, name: str, code: int, arg0_bits: int | None = None) -> None:
        """Fail ``name`` with ``code``; with ``arg0_bits``, only if arg 0 has all those bits."""
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number == -1:  # __NR_SCMP_ERROR: a name this libseccomp does not know
            raise SandboxError(f"libseccomp does not know the system call {name}")
        conditions = (_ArgCmp * 1)()
        count = 0
        if arg0_bits is not None:
            conditions[0] = _ArgCmp(0, SCMP_CMP_MASKED_EQ, arg0_bits, arg0_bits)
            count = 1
        added = self.lib.seccomp_rule_add_array(
            self.ctx, _errno_action(code), number, count, conditions
        )
        self.check(added, f"rule for {name}")

    def export(self) -> bytes:
        """The compiled program: an array of ``struct sock_filter``."""
        fd = os.memfd_create("cellhub-seccomp", os.MFD_CLOEXEC)
        try:
            self.check(self.lib.seccomp_export_bpf(self.ctx, fd), "export")
            return os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.lib.seccomp_release(self.ctx)


class Program:
    """A compiled filter, laid out for ``prctl`` in the template, so a session only loads it."""

    def __init__(self, code: bytes) -> None:
        self.code = code
        self._buffer = ctypes.create_string_buffer(code, len(code))
        self._fprog = _SockFprog(len(code) // SOCK_FILTER_SIZE, ctypes.addressof(self._buffer))

    def load(self) -> None:
        """Install the filter in this process, for good."""
        prctl_pointer(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog))


@functools.cache
def session_filter() -> Program:
    """The session filter, compiled at the first call (see the module doc)."""
    compiler = _Compiler()
    try:
        if compiler.arch not in ARCHITECTURES:
            raise SandboxError(
                f"the seccomp filter has rules for x86_64 and aarch64 only, not for this "
                f"{platform.machine()} host; set seccomp = false to run sessions without it"
            )
        compiler.check(
            compiler.lib.seccomp_attr_set(
                compiler.ctx, SCMP_FLTATR_ACT_BADARCH, _errno_action(errno.ENOSYS)
            ),
            "bad-architecture action",
        )
        compiler.check(
            compiler.lib.seccomp_attr_set(compiler.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2),
            "binary-tree optimisation",
        )
        for names in DENIED.values():
            for name in names:
                compiler.deny(name, errno.EPERM)
        for flag in NAMESPACE_FLAGS:
            compiler.deny("clone", errno.EPERM, flag)
        for flag in UNSAFE_PERSONALITY:
            compiler.deny("personality", errno.EPERM, flag)
        compiler.deny("clone3", errno.ENOSYS)
        return Program(compiler.export())
    finally:
        compiler.close()


def describe() -> str:
    """One phrase for the sandbox's start-up line."""
    count = sum(len(names) for names in DENIED.values())
    return (
        f"seccomp: {count} system calls refused (EPERM), clone of namespaces, "
        "unsafe personality; clone3 ENOSYS"
    )
