"""userstack/core is sans-I/O (DESIGN.md decision 3, house style): no
syscalls, no clock or random reads, no stdio and no mutable globals. This
checks the compiled objects, so it holds whatever the source looks like."""
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

# What a core object may call: memory and string helpers, libcrypto (the
# only crypto allowed, DESIGN.md decision 3), and compiler runtime helpers.
ALLOWED = {
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strlen", "strcmp", "strncmp",
    "strchr", "strnlen", "malloc", "calloc", "realloc", "free",
    "__stack_chk_fail", "__assert_fail", "_GLOBAL_OFFSET_TABLE_",
    "snprintf", "__snprintf_chk", "vsnprintf", "__vsnprintf_chk",
    "__memcpy_chk", "__memset_chk", "__memmove_chk",
}
ALLOWED_RE = re.compile(r"^(EVP_|HMAC|OSSL_|OPENSSL_|CRYPTO_|SHA256|ERR_)")


def _core_objects():
    objs = sorted((BUILD / "userstack" / "core").glob("*.o"))
    return objs


@pytest.mark.parametrize("obj", _core_objects(), ids=lambda p: p.name)
def test_core_object_is_pure(obj):
    # objdump names each symbol's section: .data and .bss are mutable; const
    # tables of pointers live in .data.rel.ro, which is read-only after
    # relocation and therefore allowed.
    out = subprocess.run(["objdump", "-t", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    writable = []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+\s.{7}\s(\S+)\s+[0-9a-f]+\s+(\S+)$", line)
        if m and m.group(1) != m.group(2) and m.group(1).split(".")[1:2] in (["data"], ["bss"]) \
                and not m.group(1).startswith(".data.rel.ro"):
            writable.append(m.group(2))
    assert not writable, f"mutable global state in {obj.name}: {writable}"
    undef = subprocess.run(["nm", "--undefined-only", str(obj)], capture_output=True, text=True,
                           check=True).stdout.split()
    bad = [s for s in undef if s != "U" and s not in ALLOWED and not ALLOWED_RE.match(s)
           and not s.startswith("mpx_")]
    assert not bad, f"{obj.name} calls outside the pure allowlist: {bad}"


def test_core_objects_exist():
    srcs = sorted((ROOT / "userstack" / "core").glob("*.c"))
    objs = {p.stem for p in _core_objects()}
    missing = [s.name for s in srcs if s.stem not in objs]
    assert srcs and not missing, f"core sources not built: {missing}"
