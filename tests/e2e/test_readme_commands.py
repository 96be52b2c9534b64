"""Every command in the README, taken from the file itself, run as written beside `make run`.

A fresh copy of the repository (its tracked and new files, the installed ``.venv`` linked in)
stands in for a new user's clone. ``make run`` — the README's first command — starts the
service there with no configuration at all: SQLite under the copy's ``var/``, the broker the
launcher chooses. Then each ``sh`` block of the README runs in one shell, in order, in the
copy's root, exactly as written, with two substitutions a second copy on this machine needs:
the web port (``127.0.0.1:8000``) and the MLLP port (``--port 2575``) are free ports instead.
The environment adds one variable, a queue of the test's own, so that another Labpanel worker
on this machine never takes its tasks. ``make test`` is the command running this test, and is
not run again.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from panels.intake.hl7.mllp import MllpClient
from tests.e2e.launcher import (
    free_port,
    launcher_running,
    new_user_environment,
    port_wait,
    process_group_stop,
    technician_token,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
WAIT_SECONDS = 90
BEGIN, END = "<<<begin {}>>>", "<<<end {} status={}>>>"


def readme_commands() -> list[list[str]]:
    """The README's ``sh`` blocks, one list of commands per block (continued lines joined)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    commands: list[list[str]] = []
    for block in blocks:
        found: list[str] = []
        pending = ""
        for line in re.sub(r"\\\n\s*", "", block).splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending = f"{pending}\n{line}" if pending else line.strip()
            try:
                shlex.split(pending)  # a quoted argument may span lines (a JSON body)
            except ValueError:
                continue
            found.append(pending)
            pending = ""
        assert not pending, pending
        commands.append(found)
    return commands


def _fresh_copy(target: Path) -> None:
    """The repository's files as a clone has them (plus files not yet committed), no var/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
        destination.chmod(source.stat().st_mode)
    (target / ".venv").symlink_to(REPO / ".venv")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int, Path]]:
    """`make run` (the README's first command) in a fresh copy; yields (copy, env, port, log)."""
    first_command = readme_commands()[0][0]
    assert first_command.startswith("make run"), first_command
    copy = tmp_path / "labpanel"
    _fresh_copy(copy)
    port = free_port()
    env = new_user_environment(
        CELERY_TASK_DEFAULT_QUEUE=f"labpanel-readme-{uuid.uuid4().hex[:10]}", PORT=str(port)
    )
    log_path = tmp_path / "make-run.log"
    with launcher_running(log_path, env, command=("bash", "-c", first_command), cwd=copy):
        yield copy, env, port, log_path


def _script(commands: list[str], port: int) -> str:
    """One shell script running ``commands`` in order, each output framed by markers.

    The README says to poll the report "until "status": "ready"": that command is repeated
    until its answer says so (or WAIT_SECONDS pass)."""
    lines = ["set +e"]
    for number, command in enumerate(commands):
        command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        lines.append(f"echo {shlex.quote(BEGIN.format(number))}")
        if re.search(r"/api/v1/reports/\d+/$", command):
            lines.append(
                f"for attempt in $(seq {WAIT_SECONDS * 2}); do "
                f"answer=$({command}); "
                """case "$answer" in *'"status":"ready"'*) break;; esac; sleep 0.5; done; """
                'printf "%s" "$answer"'
            )
        else:
            lines.append(command)
        lines.append(f'echo; echo "{END.format(number, "$?")}"')
    return "\n".join(lines) + "\n"


def _outputs(stdout: str, count: int) -> list[tuple[str, int]]:
    found = []
    for number in range(count):
        begin = stdout.index(BEGIN.format(number)) + len(BEGIN.format(number))
        match = re.compile(re.escape(f"<<<end {number} status=") + r"(\d+)>>>").search(
            stdout, begin
        )
        assert match is not None, stdout
        found.append((stdout[begin : match.start()].strip(), int(match.group(1))))
    return found


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def _get(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def test_every_readme_command_works_as_written(
    service: tuple[Path, dict[str, str], int, Path],
) -> None:
    copy, env, port, log_path = service
    blocks = readme_commands()
    assert blocks[0][1].startswith("make test")  # this suite; not run again from inside it
    listener_command = blocks[-1].pop()
    assert listener_command.startswith(".venv/bin/python manage.py mllp_listener")
    commands = [command for block in blocks[1:] for command in block]

    finished = subprocess.run(
        ["bash", "-c", _script(commands, port)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    context = f"{finished.stdout}\n{finished.stderr}\n{log_path.read_text()[-4000:]}"
    outputs = dict(zip(commands, _outputs(finished.stdout, len(commands)), strict=True))
    for command, (_, status) in outputs.items():
        assert status == 0, (command, context)

    def answer(prefix: str) -> str:
        return next(out for command, (out, _) in outputs.items() if command.startswith(prefix))

    # From a panel to a PDF.
    submitted = json.loads(answer("curl -s -X POST http://127.0.0.1:8000/api/v1/panels/"))
    assert submitted["accession"] == "A-1001", context
    assert [r["raw_value"] for r in submitted["results"]] == ["12.4", "<2.0"]
    status = json.loads(answer('curl -s -H "Authorization: Token $TOKEN" http://127.0.0.1'))
    assert (status["status"], status["stage"]) == ("ready", "preliminary"), context
    assert "PRELIMINARY" in _pdf_text(copy / "preliminary.pdf"), context
    # The director verifies and releases: the FINAL report follows.
    verified = json.loads(answer("curl -s -X POST http://127.0.0.1:8000/api/v1/panels/1/verify/"))
    assert verified["review_state"] == "verified", context
    released = json.loads(answer('curl -s -X POST -H "Authorization: Token $DIRECTOR"'))
    assert released["review_state"] == "released", context
    assert released["report"]["stage"] == "final", context
    final = json.loads(answer('curl -s -H "Authorization: Token $DIRECTOR" http://127.0.0.1'))
    assert (final["id"], final["status"], final["stage"]) == (2, "ready", "final"), context
    # The list by cursor: the one panel, no page after it, and the place to poll for newer.
    paged = json.loads(
        answer(
            'curl -s -H "Authorization: Token $TOKEN" "http://127.0.0.1:8000/api/v1/panels/?cursor='
        )
    )
    assert (paged["next"], [row["id"] for row in paged["results"]]) == (None, [1]), context
    assert "cursor=" in paged["previous"], context
    final_text = _pdf_text(copy / "report.pdf")
    assert "Final report" in final_text, context
    assert "PRELIMINARY" not in final_text, context

    # Files from the bench: both uploads are read into a preview by the launcher's worker.
    token = technician_token(env, cwd=copy, python=".venv/bin/python")
    uploads = [out for command, (out, _) in outputs.items() if "/api/v1/imports/" in command]
    assert len(uploads) == 2, context
    for upload in uploads:
        job = json.loads(upload)
        deadline = time.monotonic() + WAIT_SECONDS
        while job["status"] == "validating" and time.monotonic() < deadline:
            time.sleep(0.3)
            job = _get(str(job["links"]["self"]), token)
        if job["status"] != "preview":
            problems = _get(str(job["links"]["problems"]), token)
            pytest.fail(f"{upload}\n{job}\n{problems}")

    # Rule sets: the draft was imported, previewed and published.
    assert (copy / "set.yaml").read_text().strip(), context
    assert "2026.2" in answer(".venv/bin/python manage.py ruleset_publish"), context

    # HL7 over HTTP: accepted and committed.
    ack = answer("curl -s -X POST http://127.0.0.1:8000/api/v1/hl7/")
    assert "MSA|AA|" in ack, ack

    # The MLLP listener, as written (on a free port), answers AA for a new message.
    mllp_port = free_port()
    listener = subprocess.Popen(
        ["bash", "-c", "exec " + listener_command.replace("--port 2575", f"--port {mllp_port}")],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        message = (copy / "docs" / "examples" / "oru_r01.hl7").read_bytes()
        message = message.replace(b"A-2001", b"A-2002").replace(b"|MSG00001|", b"|MSG00002|")
        port_wait(mllp_port, listener, timeout=WAIT_SECONDS)
        with MllpClient("127.0.0.1", mllp_port) as client:
            mllp_ack = client.send(message.decode())
        assert "MSA|AA|MSG00002" in mllp_ack, mllp_ack
    finally:
        process_group_stop(listener)
