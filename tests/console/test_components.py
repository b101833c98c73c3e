"""The console's component and logic tests (Vitest, console/src/**/*.test.ts(x)) as part of `make test`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_vitest_passes():
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npm/npx is needed for the console's Vitest tests (Debian: apt-get install nodejs npm)")
    if not (ROOT / "console" / "node_modules" / ".bin" / "vitest").exists():
        pytest.fail("console/node_modules is missing: run `make console` (npm ci) first")
    done = subprocess.run([npx, "vitest", "run", "--reporter=verbose"], cwd=ROOT / "console", capture_output=True,
                          text=True, timeout=600, env={**os.environ, "CI": "1", "NO_COLOR": "1"})
    if done.returncode != 0:
        pytest.fail(f"npx vitest run failed ({done.returncode}):\n{done.stdout[-8000:]}\n{done.stderr[-4000:]}",
                    pytrace=False)
