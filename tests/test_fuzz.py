"""A short libFuzzer smoke run of every fuzz target from its committed seed
corpus (`make fuzz` runs them for as long as asked). The corpus is copied
so the run never writes into the tree."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

SECONDS = int(os.environ.get("MPX_FUZZ_SMOKE_SECONDS", "20"))
TARGETS = sorted(p.stem for p in (ROOT / "tests" / "fuzz").glob("fuzz_*.c"))


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_smoke(target, tmp_path):
    binary = BUILD / "fuzz" / target
    assert binary.exists(), f"{binary} missing; `make test` builds it (make fuzz-build)"
    seeds = ROOT / "tests" / "fuzz" / "corpus" / target
    assert seeds.is_dir() and any(seeds.iterdir()), f"no seed corpus in {seeds}"
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds, corpus)
    res = subprocess.run([str(binary), f"-max_total_time={SECONDS}", "-print_final_stats=1",
                          f"-artifact_prefix={tmp_path}/", str(corpus)],
                         capture_output=True, text=True, timeout=SECONDS + 120)
    tail = "\n".join(res.stderr.splitlines()[-30:])
    assert res.returncode == 0, f"{target} found a crash:\n{tail}"
    runs = [l for l in res.stderr.splitlines() if l.startswith("stat::number_of_executed_units")]
    assert runs, f"no libFuzzer stats printed:\n{tail}"
    executed = int(runs[-1].split(":")[-1])
    print(f"{target}: {executed} executions in {SECONDS} s, 0 crashes")
    assert executed > 1000
