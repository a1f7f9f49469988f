"""`make lint` (clang-format check, cppcheck) is part of the suite, so a
change that breaks the house style fails CI like a failing test."""
import subprocess

from conftest import ROOT


def test_make_lint_is_clean():
    res = subprocess.run(["make", "-s", "lint"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"make lint failed:\n{res.stdout}\n{res.stderr}"
