"""A wrong configuration is one line on standard error, ``ledger: ...``, and exit status 2.

Never a traceback, never a 30-second wait: a URL the ledger cannot use, a SQLite file that
cannot be opened or written, a PostgreSQL server, database or user that refuses the
connection. Messages name ``LEDGER_DATABASE_URL`` and what to do, and never a password.

Some tests run the command as a separate process: as an unprivileged user when file
permissions matter (root ignores them), and once end to end to see the exit status itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from integration.conftest import DAY, PARTY_SUBJECT, write_report
from ledger.adapters.storage import CONNECT_TIMEOUT, Database, DatabaseUrlError
from ledger.cli import main
from ledger.domain.errors import ConfigurationError
from ledger.service.runtime import LedgerRuntime

ROOT = Path(__file__).resolve().parents[2]


def run_main(
    url: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The single ``ledger: ...`` line of a refused command (no traceback, no usage)."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("ledger: ") and "Traceback" not in err, err
    return err


# --- URLs the ledger cannot use -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@db.example/ledger", "is not a database the ledger can use: write sqlite:"),
        ("ledger.db", "is not a database the ledger can use"),
        ("sqlite:///", "LEDGER_DATABASE_URL='sqlite:///' names no SQLite file"),
        ("sqlite://x.db", "write three slashes after 'sqlite:', e.g. sqlite:///x.db for a file"),
        ("sqlite:x.db", "e.g. sqlite:///x.db for a file in the working directory"),
        ("sqlite:///:memory:", "not in memory"),
        (
            "sqlite:////nonexistent/dir/x.db",
            "names the SQLite file /nonexistent/dir/x.db, but its directory /nonexistent/dir "
            "does not exist: create the directory or correct LEDGER_DATABASE_URL",
        ),
        ("postgresql://me@127.0.0.1:99999/ledger", "has no valid port: write a number from 1"),
        ("postgresql://me@127.0.0.1:port/ledger", "has no valid port"),
    ],
)
@pytest.mark.parametrize("argv", [["rebuild"], ["period", "system", "2026-05-01", "1"]])
def test_unusable_url_is_one_line_and_exit_2(
    url: str,
    message: str,
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(url, argv, monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert message in one_line(err)
    assert "LEDGER_DATABASE_URL" in err
    # Nothing was created anywhere (sqlite://x.db used to write a file named ".db").
    assert list(tmp_path.iterdir()) == []


def test_url_errors_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        Database("mysql://x")
    assert issubclass(DatabaseUrlError, ConfigurationError)
    assert issubclass(DatabaseUrlError, ValueError)  # as before


def test_sqlite_path_that_is_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(f"sqlite:///{tmp_path}", ["rebuild"], monkeypatch, capsys)
    assert code == 2
    assert f"names the SQLite file {tmp_path}, which is a directory" in one_line(err)


def test_sqlite_file_that_is_not_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just notes\n" * 100)
    code, _, err = run_main(f"sqlite:///{path}", ["rebuild"], monkeypatch, capsys)
    assert code == 2
    assert f"{path} (LEDGER_DATABASE_URL=" in one_line(err)
    assert "is not a SQLite database" in err
    assert path.read_text() == "not a database, just notes\n" * 100


# --- No ledger there yet --------------------------------------------------------------------

# Every command that only reads (one of each group's reading actions).
READ_COMMANDS = [
    ["period", PARTY_SUBJECT, DAY.isoformat(), "3"],
    ["day", PARTY_SUBJECT, DAY.isoformat()],
    ["history", PARTY_SUBJECT, DAY.isoformat(), "3"],
    ["flow", "0" * 64],
    ["feed"],
    ["verify"],
    ["rebuild"],
    ["documents", "show", "INV-1"],
    ["documents", "stale"],
    ["documents", "using", PARTY_SUBJECT, DAY.isoformat(), "3"],
    ["exceptions"],
    ["mappings", "list"],
    ["mappings", "show", "0" * 32],
]


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_read_where_there_is_no_ledger_says_so_and_creates_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main("sqlite:///ledger.db", argv, monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert f"there is no ledger at {tmp_path / 'ledger.db'}" in one_line(err)
    assert "ingest a file to create it" in err
    assert list(tmp_path.iterdir()) == []


def test_the_views_process_where_there_is_no_ledger_says_so(tmp_path: Path) -> None:
    # A process of its own: were it to start on an empty ledger, it would run until stopped.
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "project"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "LEDGER_DATABASE_URL": "sqlite:///ledger.db", "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "there is no ledger at" in one_line(done.stderr)
    assert list(tmp_path.iterdir()) == []


def test_the_default_database_is_not_created_by_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    capsys.readouterr()
    assert main(["period", "system", DAY.isoformat(), "3"]) == 2
    assert "there is no ledger at" in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_write_where_there_is_no_ledger_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    report = write_report(tmp_path, run_type="II")
    code, out, err = run_main(url, ["ingest", str(report.path)], monkeypatch, capsys)
    assert code == 0, err
    assert json.loads(out)["status"] == "accepted"
    code, out, err = run_main(
        url, ["period", PARTY_SUBJECT, DAY.isoformat(), "3"], monkeypatch, capsys
    )
    assert code == 0, err
    assert [v["run_type"] for v in json.loads(out)["versions"]] == ["II"]
    # So does a person's change, on a ledger of its own.
    other = f"sqlite:///{tmp_path / 'other.db'}"
    mapping = [
        "mappings", "add", "--kind", "customer", "--id", "C-1", "--market", "mpan:2499999999991",
        "--from", "2026-01-01", "--actor", "a", "--reason", "r",
    ]  # fmt: skip
    code, _, err = run_main(other, mapping, monkeypatch, capsys)
    assert code == 0, err
    assert (tmp_path / "other.db").exists()


def test_an_argument_is_checked_before_the_ledger_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, _, err = run_main(url, ["period", "party:", DAY.isoformat(), "3"], monkeypatch, capsys)
    assert code == 2 and "is not a BSC Party Id" in one_line(err)
    code, _, err = run_main(url, ["--tenant", "A B", "feed"], monkeypatch, capsys)
    assert code == 2 and "is not a tenant name" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_refused_end_to_end_without_traceback(tmp_path: Path) -> None:
    """The exit status and standard error of the real command."""
    env = {**os.environ, "LEDGER_DATABASE_URL": "mysql://x", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "rebuild"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "is not a database the ledger can use" in one_line(done.stderr)


# --- PostgreSQL servers, databases and users that refuse --------------------------------------


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just released by the kernel)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never answers, like a hung server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_unreachable_server_fails_fast(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://ledger:s3cret@127.0.0.1:{closed_port()}/ledger"
    started = time.monotonic()
    code, out, err = run_main(url, ["rebuild"], monkeypatch, capsys)
    assert time.monotonic() - started < CONNECT_TIMEOUT
    assert (code, out) == (2, "")
    assert "cannot connect to the PostgreSQL database 'ledger' on 127.0.0.1:" in one_line(err)
    assert "Connection refused" in err
    assert "check that PostgreSQL is running there and the host and port" in err
    assert "s3cret" not in err and "ledger:***@127.0.0.1" in err


def test_server_that_never_answers_times_out_in_seconds(
    silent_server: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert CONNECT_TIMEOUT <= 10
    url = f"postgresql://ledger@127.0.0.1:{silent_server}/ledger"
    started = time.monotonic()
    code, _, err = run_main(url, ["period", "system", "2026-05-01", "1"], monkeypatch, capsys)
    elapsed = time.monotonic() - started
    assert code == 2
    assert elapsed < CONNECT_TIMEOUT + 5  # it used to wait 30 s, then print a traceback
    assert "timeout" in one_line(err)
    assert "LEDGER_DATABASE_URL" in err


def with_database(url: str, dbname: str, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc if user is None else f"{user}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{dbname}"))


def test_missing_database(
    postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = with_database(postgres_admin_url, "ledger_test_never_created")
    code, out, err = run_main(url, ["rebuild"], monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert 'database "ledger_test_never_created" does not exist' in one_line(err)
    assert "create it (createdb" in err and "or correct the database name in" in err


def test_unknown_user(
    postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = with_database(postgres_admin_url, "postgres", user="ledger_test_no_such_role")
    code, _, err = run_main(url, ["rebuild"], monkeypatch, capsys)
    assert code == 2
    assert "ledger_test_no_such_role" in one_line(err)
    assert "check the user name and password in LEDGER_DATABASE_URL" in err


# --- Running as an unprivileged user ----------------------------------------------------------


@pytest.fixture(scope="session")
def unprivileged() -> list[str]:
    """A command prefix under which file permissions apply.

    As root (CI), ``setpriv`` drops the capabilities that override them; switching to
    ``nobody`` instead would also lock it out of the Python interpreter, which may live
    under /root. Skips when neither works.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"] if setpriv else []
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"ledger-probe-{os.getpid()}"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        writes = subprocess.run([*prefix, "sh", "-c", f"echo x >> {probe}"], capture_output=True)
    finally:
        probe.unlink()
    if not prefix or writes.returncode == 0:
        pytest.skip("running as root, and file permissions cannot be made to apply")
    return prefix


def run_cli(prefix: list[str], url: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ledger.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=["file", "file and directory"])
def read_only_sqlite(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Path, Path]]:
    """A SQLite ledger holding one file, then made read-only: (url, database, another file)."""
    directory = tmp_path / "db"
    directory.mkdir()
    database = directory / "ledger.db"
    url = f"sqlite:///{database}"
    files = tmp_path / "files"
    files.mkdir()
    runtime = LedgerRuntime(url)
    try:
        assert runtime.ingest(write_report(files, run_type="II").path).status == "accepted"
    finally:
        runtime.close()
    database.chmod(0o444)
    if request.param == "file and directory":
        directory.chmod(0o555)
    try:
        yield url, database, write_report(files, run_type="SF").path
    finally:
        directory.chmod(0o755)
        database.chmod(0o644)


def test_ingest_into_read_only_sqlite_says_so(
    unprivileged: list[str], read_only_sqlite: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, database, report = read_only_sqlite
    before = database.read_bytes()
    done = run_cli(unprivileged, url, "ingest", str(report), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert f"the SQLite database {database} (LEDGER_DATABASE_URL) is read-only" in one_line(
        done.stderr
    )
    assert database.read_bytes() == before


def test_read_commands_work_on_read_only_sqlite(
    request: pytest.FixtureRequest,
    unprivileged: list[str],
    read_only_sqlite: tuple[str, Path, Path],
    tmp_path: Path,
) -> None:
    url, database, _ = read_only_sqlite
    directory_read_only = not database.parent.stat().st_mode & stat.S_IWUSR
    if directory_read_only and not Path(f"{database}-shm").exists():
        # Known limit: SQLite must create the write-ahead log's -shm file beside a WAL
        # database to read it; in a read-only directory it cannot. The command still fails
        # with one clear line (checked below), never a traceback.
        request.applymarker(pytest.mark.xfail(reason="WAL needs its -shm file", strict=True))
    done = run_cli(unprivileged, url, "period", PARTY_SUBJECT, DAY.isoformat(), "3", cwd=tmp_path)
    if done.returncode != 0:
        one_line(done.stderr)
    assert done.returncode == 0, done.stderr
    assert [v["run_type"] for v in json.loads(done.stdout)["versions"]] == ["II"]


def test_unreadable_file_is_rejected_like_any_other(
    unprivileged: list[str], database_url: str, tmp_path: Path
) -> None:
    report = write_report(tmp_path, run_type="II").path
    report.chmod(0o000)
    if database_url.startswith("sqlite"):
        LedgerRuntime(database_url).close()  # created now, so it is root's and writable
    done = run_cli(unprivileged, database_url, "ingest", str(report), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (result,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert result["file"] == str(report)
    assert (result["status"], result["sha256"], result["flow"]) == ("rejected", None, None)
    assert result["reasons"] == [f"{report}: this user may not read it (permission denied)"]
    assert set(result) >= {"periods", "events", "warnings", "run_type", "bsc_party_id"}
