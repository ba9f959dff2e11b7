"""`digest` installed as a tool, not run from its checkout: the wheel carries the
templates, and the seeds' demo runs from an empty folder."""

from __future__ import annotations

import mailbox
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_every_package_is_in_the_wheel_list() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "digest").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert {"digest.templates", "digest.templates.web"} <= listed


@pytest.mark.slow
def test_the_wheel_installed_outside_the_checkout_runs_the_demo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("digest-*.whl")
    # A fresh venv; the dependencies come from this one's site-packages (a .pth file),
    # not from the network, and never the checkout's own digest package.
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True, check=True)
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(site.stdout.strip(), "deps.pth").write_text("\n".join(deps) + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python),
                                "install", "-q", "--no-deps", str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr

    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copy(ROOT / "subscriptions.yaml", demo)
    shutil.copytree(ROOT / "seeds", demo / "seeds")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = ""
    where = subprocess.run([str(python), "-c", "import digest, sys; print(digest.__file__)"],
                           cwd=demo, env=env, capture_output=True, text=True, check=True)
    assert str(ROOT) not in where.stdout  # the installed package, not the checkout
    run = subprocess.run([str(target / "bin" / "digest"), "run", "--once"], cwd=demo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    mails = list(mailbox.Maildir(demo / "outbox"))
    assert mails and all("Papers" in str(make_header(decode_header(m["Subject"])))
                         for m in mails)  # as a mail reader decodes it (RFC 2047)
    assert (demo / "digest.db").is_file()


def _fake_apt(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose apt-get is ``script`` (it logs its arguments to calls.log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f"#!/usr/bin/env bash\necho \"$*\" >> {tmp_path}/calls.log\n{script}\n")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APT_LOCK_PAUSE": "0"}


def test_apt_waits_for_a_lock_held_by_another_apt(tmp_path: Path) -> None:
    """`apt-get update` fails at once (exit 100) while another holds the package lists'
    lock, whatever DPkg::Lock::Timeout says: scripts/test goes on once it is free."""
    env = _fake_apt(tmp_path, f'n=$(wc -l < {tmp_path}/calls.log); if ((n < 3)); then '
                    'echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by '
                    'process 1 (apt-get)" >&2; exit 100; fi; exit 0')
    done = subprocess.run([str(ROOT / "scripts" / "apt-get-waiting"), "update", "-qq"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == ["-o DPkg::Lock::Timeout=600 update -qq"] * 3
    assert done.stderr.count("holds its lock; waiting") == 2


def test_apt_fails_at_once_for_anything_but_a_lock(tmp_path: Path) -> None:
    env = _fake_apt(tmp_path, 'echo "E: Unable to locate package nosuch" >&2; exit 100')
    done = subprocess.run([str(ROOT / "scripts" / "apt-get-waiting"), "install", "nosuch"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 100 and "Unable to locate package nosuch" in done.stderr
    assert len((tmp_path / "calls.log").read_text().splitlines()) == 1
