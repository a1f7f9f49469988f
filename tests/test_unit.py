"""Each C unit test is its own pytest item, once per build (release and
ASan+UBSan), so a failure names the C test and the build it failed in."""
import os
import subprocess

import pytest

from conftest import BUILD, ROOT

RUNNERS = {
    "release": BUILD / "unit_tests",
    "asan": BUILD / "asan" / "unit_tests",
}


def _list(runner):
    if not runner.exists():
        return []
    out = subprocess.run([str(runner), "--list"], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def _cases():
    cases = []
    for build, runner in RUNNERS.items():
        names = _list(runner)
        if not names:
            # Keep a visible failing item rather than silently collecting nothing.
            cases.append(pytest.param(build, None, id=f"{build}-missing"))
        cases += [pytest.param(build, n, id=f"{build}-{n}") for n in names]
    return cases


@pytest.mark.parametrize("build,name", _cases())
def test_c(build, name):
    runner = RUNNERS[build]
    if name is None:
        pytest.fail(f"{runner} missing or lists no tests; run `make test`")
    env = dict(os.environ, MPX_SRCDIR=str(ROOT))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    res = subprocess.run([str(runner), "--run", name], capture_output=True, text=True, env=env,
                         timeout=300)
    if res.returncode != 0:
        pytest.fail(f"{name} ({build}) failed, exit {res.returncode}\n"
                    f"{res.stdout}{res.stderr}", pytrace=False)
