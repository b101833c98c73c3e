"""The staff console in a real browser: Playwright for Python driving Debian's own Chromium (never a downloaded
browser) against the built console, served by scripts/gateway.py in front of the four services run as processes
(as `make run` does, and as tests/e2e/conftest.py starts them), on free ports, against the session's broker and store.

The stack runs with the development secret (services/kit/settings.DEV_AUTH_SECRET), since the gateway's
`POST /dev/token`, which the sign-in page uses, answers only with it: the tests sign in through the real page.

Fixtures:
- ``chromium`` (session): the path of /usr/bin/chromium, installed with apt-get when missing and running as root,
  else a failure saying how to install it;
- ``browser`` (session): a headless Chromium launched by Playwright with that ``executable_path``;
- ``console_dist`` (session): the console built by Vite into a temporary directory (the repository's console/dist
  is left alone);
- ``console_env`` (module): more environment for the stack's processes, ``{}`` unless a module overrides it;
- ``console_stack`` (module): the four services and the gateway, with databases of the module's own; ``console`` (module): its base URL;
- ``page`` (function): a fresh browser context (desktop size) and page; uncaught page errors are collected in
  ``page.errors``.
Helpers (tests/console/helpers.py): ``sign_in(page, console, role, sub, products=…)``, ``shot(page, name)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import devstack
from tests.conftest import ROOT, Infra
from tests.processes import start, stop, wait_ready

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never fetch a browser: we drive Debian's

CONSOLE = ROOT / "console"
CHROMIUM = os.environ.get("OPS_TEST_CHROMIUM", "/usr/bin/chromium")
# lifecycle first, as tests/e2e does: ticketing then learns the seeded catalog by asking
START_ORDER = ("lifecycle", "ticketing", "knowledge", "analytics")


def _dev_secret() -> str:
    from services.kit.settings import DEV_AUTH_SECRET

    return DEV_AUTH_SECRET


# --------------------------------------------------------------------------- the browser


# A font with Chinese glyphs: without one, Chromium draws every 中文 label as a box in the screenshots.
CJK_FONT_PACKAGE = "fonts-wqy-microhei"


def _has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return True  # nothing to ask: leave the fonts alone
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return bool(listed.strip())


@pytest.fixture(scope="session")
def chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path and not _has_cjk_font() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", CJK_FONT_PACKAGE],
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, timeout=600)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium", CJK_FONT_PACKAGE], env=env,
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:  # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium", CJK_FONT_PACKAGE], env=env,
                                    capture_output=True, text=True, timeout=900)
        if result.returncode == 0 and Path(CHROMIUM).exists():
            return CHROMIUM
        pytest.fail(f"apt-get install -y chromium failed ({result.returncode}):\n{result.stdout[-2000:]}"
                    f"\n{result.stderr[-2000:]}", pytrace=False)
    pytest.fail("The console's browser tests drive Debian's Chromium at /usr/bin/chromium, which is not installed. "
                "Install it with `sudo apt-get install -y chromium` (or point OPS_TEST_CHROMIUM at a Chromium "
                "binary). Playwright's own browser downloads are not used.", pytrace=False)


@pytest.fixture(scope="module")
def browser(chromium, infra):
    # Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is open, and
    # every asyncio test after it (pytest-asyncio's runner, the session's broker clean-up) fails with "Runner.run()
    # cannot be called from a running event loop". Closed at the end of each browser module, the rest of the
    # suite runs as before.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: install the test extra (pip install -e '.[test]', "
                    "or `make .venv`).", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []  # uncaught exceptions of the page's scripts
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


# --------------------------------------------------------------------------- the console and the stack


@pytest.fixture(scope="session")
def console_dist() -> Path:
    """`npx vite build` into a temporary directory (`npm ci` first only when console/node_modules is missing)."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npm/npx is needed to build the console (Debian: apt-get install nodejs npm)", pytrace=False)
    modules = CONSOLE / "node_modules"
    if modules.is_symlink():  # a shared install (worktrees): never reinstall it, wait while someone else does
        deadline = time.monotonic() + 180
        while not (modules / ".bin" / "vite").exists() and time.monotonic() < deadline:
            time.sleep(2)
        if not (modules / ".bin" / "vite").exists():
            pytest.fail(f"{modules} links to an install without vite: run `npm ci` where it points", pytrace=False)
    # the Makefile's rule: installed again when the lock file's content differs from the copy kept with the install
    stamp, lock = modules / ".installed", CONSOLE / "package-lock.json"
    current = stamp.exists() and stamp.read_bytes() == lock.read_bytes()
    if not modules.is_symlink() and not ((modules / ".bin" / "vite").exists() and current):
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONSOLE, capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0:
            pytest.fail(f"npm ci failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", pytrace=False)
        shutil.copyfile(lock, stamp)
    out = Path(tempfile.mkdtemp(prefix="ops-console-dist-"))
    done = subprocess.run([npx, "vite", "build", "--logLevel", "warn", "--outDir", str(out), "--emptyOutDir"],
                          cwd=CONSOLE, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not (out / "index.html").exists():
        pytest.fail(f"vite build failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
                    pytrace=False)
    yield out
    shutil.rmtree(out, ignore_errors=True)


@dataclass
class ConsoleStack:
    infra: Infra  # the session's servers, with this module's databases (tests/conftest.Infra.within)
    base_url: str
    urls: dict[str, str]
    secret: str
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def token(self, role: str, sub: str, **claims) -> str:
        """A bearer token for calling the APIs directly (e.g. to file a ticket a page then shows)."""
        from services.kit.auth import mint_token

        return mint_token(self.secret, sub=sub, roles=[role], ttl_seconds=3600,
                          **{k: v for k, v in claims.items() if v})

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name, process in self.processes.items():
            text = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name} (exit {process.poll()}) ---\n" + "\n".join(text))
        return "\n".join(out)


@pytest.fixture(scope="module")
def console_env() -> dict[str, str]:
    """More environment for every process of the module's stack (a module overrides it, e.g. to turn OIDC on)."""
    return {}


@pytest.fixture(scope="module")
def console_stack(infra, console_dist, console_env, request):
    infra = infra.within(request.module.__name__.rsplit(".", 1)[-1])  # its own databases: another module's tickets stay out of its figures
    log_dir = Path(tempfile.mkdtemp(prefix="ops-console-"))
    stack = ConsoleStack(infra, "", {}, _dev_secret(), log_dir)
    try:
        for name in START_ORDER:
            port = devstack.free_port()
            stack.urls[name] = f"http://127.0.0.1:{port}"
            stack.processes[name] = start(infra, name, port, log_dir, OPS_AUTH_SECRET=_dev_secret(), **console_env)
            wait_ready(stack.urls[name], stack.processes[name])
        port = devstack.free_port()
        urls = {f"OPS_{name.upper()}_URL": url for name, url in stack.urls.items()}
        stack.processes["gateway"] = start(infra, "gateway", port, log_dir,
                                           command=[sys.executable, str(ROOT / "scripts" / "gateway.py")],
                                           OPS_AUTH_SECRET=_dev_secret(),
                                           OPS_CONSOLE_PORT=port, OPS_CONSOLE_DIST=console_dist, **urls,
                                           **console_env)
        stack.base_url = f"http://127.0.0.1:{port}"
        wait_ready(stack.base_url, stack.processes["gateway"], path="/healthz")
        yield stack
    except Exception:
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        for name in reversed(list(stack.processes)):
            stop(stack.processes[name])


@pytest.fixture(scope="module")
def console(console_stack) -> str:
    """The console's base URL (the gateway: the console at /, the APIs under /api/<service>/)."""
    return console_stack.base_url
