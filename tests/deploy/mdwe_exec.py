"""Run a command under the seccomp rule systemd installs for MemoryDenyWriteExecute=yes.

    python mdwe_exec.py PROGRAM [ARGS...]

systemd (src/shared/seccomp-util.c, seccomp_memory_deny_write_execute) refuses with
EPERM: mmap() asking for PROT_WRITE|PROT_EXEC together, mprotect()/pkey_mprotect()
adding PROT_EXEC, and shmat() with SHM_EXEC. This installs the same rule with
no_new_privs (as the unit's NoNewPrivileges=yes does) and execs PROGRAM, which keeps it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
# (audit arch, mmap, mprotect, pkey_mprotect, shmat)
ARCHES = {"x86_64": (0xC000003E, 9, 10, 329, 30), "aarch64": (0xC00000B7, 222, 226, 288, 196)}
# classic BPF opcodes
LD_W_ABS, JEQ_K, AND_K, RET_K = 0x20, 0x15, 0x54, 0x06
NR, ARCH, ARG2_LOW = 0, 4, 32  # offsets in struct seccomp_data (little endian: low word first)


def program() -> list[tuple[int, int, int, int]]:
    arch, mmap_nr, mprotect_nr, pkey_nr, shmat_nr = ARCHES[platform.machine()]
    return [
        (LD_W_ABS, 0, 0, ARCH),
        (JEQ_K, 1, 0, arch),
        (RET_K, 0, 0, RET_ALLOW),                     # another ABI: not our business here
        (LD_W_ABS, 0, 0, NR),
        (JEQ_K, 4, 0, mmap_nr),                       # -> 9, mmap check (jumps count from the next insn)
        (JEQ_K, 8, 0, mprotect_nr),                   # -> 14, exec check
        (JEQ_K, 7, 0, pkey_nr),                       # -> 14, exec check
        (JEQ_K, 11, 0, shmat_nr),                     # -> 19, shmat check
        (RET_K, 0, 0, RET_ALLOW),                     # 8
        (LD_W_ABS, 0, 0, ARG2_LOW),                   # 9: mmap: prot
        (AND_K, 0, 0, PROT_WRITE | PROT_EXEC),
        (JEQ_K, 0, 1, PROT_WRITE | PROT_EXEC),
        (RET_K, 0, 0, RET_EPERM),
        (RET_K, 0, 0, RET_ALLOW),
        (LD_W_ABS, 0, 0, ARG2_LOW),                   # 14: mprotect, pkey_mprotect: prot
        (AND_K, 0, 0, PROT_EXEC),
        (JEQ_K, 0, 1, PROT_EXEC),
        (RET_K, 0, 0, RET_EPERM),
        (RET_K, 0, 0, RET_ALLOW),
        (LD_W_ABS, 0, 0, ARG2_LOW),                   # 19: shmat: shmflg
        (AND_K, 0, 0, SHM_EXEC),
        (JEQ_K, 0, 1, SHM_EXEC),
        (RET_K, 0, 0, RET_EPERM),
        (RET_K, 0, 0, RET_ALLOW),
    ]


def install() -> None:
    code = b"".join(struct.pack("HBBI", *insn) for insn in program())
    buf = ctypes.create_string_buffer(code)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


if __name__ == "__main__":
    install()
    os.execv(sys.argv[1], sys.argv[1:])
