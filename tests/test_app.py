"""The composition root: settings read once and checked at the start, one place that
builds the database and the transport, and the command line's imports pointing one way."""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import defaults
from digest.app import App
from digest.cli import cli
from digest.settings import Environment, HttpSettings, Settings
from tests.conftest import ROOT

DIGEST = ROOT / "digest"


def calls(path: Path) -> list[tuple[str, str | None]]:
    """(callee, enclosing function) of every call in ``path``: ``Store(...)`` and
    ``x.Store(...)`` both as ``Store``."""
    found: list[tuple[str, str | None]] = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                func = child.func
                name = func.id if isinstance(func, ast.Name) else \
                    func.attr if isinstance(func, ast.Attribute) else None
                if name is not None:
                    found.append((name, function))
            walk(child, inner)

    walk(ast.parse(path.read_text(), str(path)), None)
    return found


def callers(name: str) -> set[tuple[str, str | None]]:
    """(file, function) of every call of ``name`` in digest/."""
    return {(str(path.relative_to(ROOT)), function) for path in sorted(DIGEST.rglob("*.py"))
            for callee, function in calls(path) if callee == name}


def test_one_place_opens_the_database_and_builds_the_transport() -> None:
    assert callers("Store") == {("digest/app.py", "store")}
    assert callers("transport_from_env") == {("digest/app.py", "transport")}
    assert callers("SmtpTransport") | callers("MaildirTransport") == {
        ("digest/deliver/transport.py", "transport_from_env")}
    mail = {(where, function) for where, function in callers("from_env")
            if function == "mail"}
    assert mail == {("digest/app.py", "mail")}


def test_the_check_sees_a_store_opened_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import digest.store\ndef f():\n    return digest.store.Store('x')\n")
    assert ("Store", "f") in calls(module)


def test_the_command_modules_do_not_import_the_package_that_registers_them() -> None:
    for path in sorted((DIGEST / "cli").glob("*.py")):
        if path.name == "__init__.py":
            continue
        imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Import) for alias in node.names}
        assert "digest.cli" not in imported, path.name
    base = ast.parse((DIGEST / "cli" / "base.py").read_text())
    assert not [node for node in ast.walk(base) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("digest.cli")]


def test_the_console_script_starts() -> None:
    script = Path(sys.executable).parent / "digest"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Usage: digest [OPTIONS] COMMAND" in result.stdout
    assert "subscribers" in result.stdout and "bounces" in result.stdout


@pytest.mark.parametrize(("name", "value", "says"), [
    ("DIGEST_FROM", "not an address", "DIGEST_FROM 'not an address' is not an address"),
    ("DIGEST_BOUNCE_ADDRESS", "Bounces <b@example.org>", "DIGEST_BOUNCE_ADDRESS"),
    ("DIGEST_BASE_URL", "digest.example.org", "DIGEST_BASE_URL: 'digest.example.org' is "
     "not an http(s) URL; write it like https://digest.example.org"),
    ("DIGEST_HF_URL", "ftp://papers.example.org", "DIGEST_HF_URL: "),
    # urlsplit raises on these (an unbalanced IPv6 bracket, a port out of range)
    ("DIGEST_ARXIV_OAI_URL", "http://[::1/oai", "DIGEST_ARXIV_OAI_URL: 'http://[::1/oai' is "
     "not an http(s) URL; write it like https://oaipmh.arxiv.org/oai"),
    ("DIGEST_BIORXIV_URL", "http://127.0.0.1:99999", "DIGEST_BIORXIV_URL: "),
    ("DIGEST_BASE_URL", "https://[digest.example.org", "DIGEST_BASE_URL: "),
    ("DIGEST_SMTP_URL", "mail.example.org:587", "DIGEST_SMTP_URL must look like"),
    ("DIGEST_SECRET", "s3cret\n", "DIGEST_SECRET holds a line break"),
    ("DIGEST_SMTP_PASSWORD", "pa\rss", "DIGEST_SMTP_PASSWORD holds a line break"),
    ("DIGEST_BOUNCES_URL", "imaps://mail.example.org/INBOX", "imaps://"),
    ("DIGEST_IMAGES", "maybe", "DIGEST_IMAGES: 'maybe' is neither on nor off"),
])
def test_a_bad_setting_stops_any_command_at_its_start(name: str, value: str, says: str,
                                                      tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    result = CliRunner().invoke(cli, ["papers"], env={name: value,
                                                      "DIGEST_DB": f"sqlite:///{db}"})
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {says}" if says.startswith(name) else "Error: ")
    assert says in result.output
    assert "Traceback" not in result.output and "s3cret" not in result.output
    assert not db.exists()  # stopped before touching anything


def test_a_base_url_is_used_as_checked() -> None:
    # the check strips spaces around a URL: what is used is the same stripped URL
    http = HttpSettings.from_env({"DIGEST_ARXIV_OAI_URL": " http://127.0.0.1:8080/oai/ ",
                                  "DIGEST_HF_URL": ""})
    assert http.oai_base == "http://127.0.0.1:8080/oai"
    assert http.hf_base == defaults.HF_BASE_URL.rstrip("/")


def test_the_smtp_greeting_is_checked_with_the_smtp_url(tmp_path: Path) -> None:
    env = {"DIGEST_SMTP_URL": "smtp://mail.example.org", "DIGEST_HELO": "not a host",
           "DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}"}
    result = CliRunner().invoke(cli, ["papers"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: DIGEST_HELO 'not a host' is not a host name")


def test_a_secret_is_never_printed() -> None:
    result = CliRunner().invoke(cli, ["papers"], env={"DIGEST_IMAP_PASSWORD": "hunter2\n"})
    assert result.exit_code == 1 and "hunter2" not in result.output


def test_good_settings_pass(tmp_path: Path) -> None:
    env = {"DIGEST_FROM": "Lab <digest@lab.example.org>", "DIGEST_BASE_URL":
           "https://papers.example.org/digest/", "DIGEST_SMTP_URL":
           "smtps://me@mail.example.org:465", "DIGEST_BOUNCES_URL": str(tmp_path),
           "DIGEST_SECRET": "s", "DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}"}
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output


def test_the_app_builds_each_thing_once_and_crosses_processes_without_them(
        tmp_path: Path) -> None:
    env = Environment({"DIGEST_MAILDIR": str(tmp_path / "out"), "DIGEST_SECRET": "s"})
    app = App(f"sqlite:///{tmp_path / 'd.db'}", tmp_path / "none.yaml", None, env)
    assert app.store is app.store and app.transport is app.transport
    assert app.transport.description == f"Maildir {tmp_path / 'out'}"
    copy = pickle.loads(pickle.dumps(app))
    assert copy == app and "store" not in vars(copy)
    assert copy.store is not app.store


def test_an_app_of_settings_keeps_their_moment(tmp_path: Path) -> None:
    settings = Settings(db_url="sqlite://", config_path=tmp_path / "c.yaml",
                        fixed_now=Settings(fixed_now=None).now().replace(microsecond=7))
    assert App.from_settings(settings, Environment()).settings == settings


# Modules that still read a setting of their own from the process's environment.
LEFT_TO_MOVE: set[str] = set()


def test_the_environment_is_read_in_one_place() -> None:
    readers = set()
    for path in sorted(DIGEST.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.add(str(path.relative_to(ROOT)))
    assert "digest/settings.py" in readers
    assert readers - {"digest/settings.py"} <= LEFT_TO_MOVE, sorted(readers)
