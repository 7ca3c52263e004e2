"""dataupload: a fast upload answers with the URL; a slow one switches to an email, without restarting."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from dataupload import client
from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.process import free_port
from tests.harness import Deployment, Logs, eventually, unique
from tests.readme import DevStack, output_blocks


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_CHANCE_DATAUPLOAD_SLOW_UPLOAD", "0")
    monkeypatch.setenv("PATTERNS_DURATION_DATAUPLOAD_FAST_UPLOAD", "100ms")
    monkeypatch.setenv("PATTERNS_DURATION_DATAUPLOAD_CLIENT_TIMEOUT", "10s")


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_CHANCE_DATAUPLOAD_SLOW_UPLOAD", "1")
    # Still uploading when we look, on a loaded machine too.
    monkeypatch.setenv("PATTERNS_DURATION_DATAUPLOAD_SLOW_UPLOAD", "3s")
    monkeypatch.setenv("PATTERNS_DURATION_DATAUPLOAD_CLIENT_TIMEOUT", "300ms")


def workflow_output(deployment: Deployment, user: str) -> httpx.Response:
    return http.get(f"{deployment.ingress_url}/restate/workflow/dataUploader/{user}/output", timeout=30)


def test_a_fast_upload_answers_with_the_url(
    deployment: Deployment, fast: None, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    user = unique("user")
    url = asyncio.run(client.main(user, deployment.ingress_url))

    assert url.startswith("https://s3-eu-central-1.amazonaws.com/") and url.endswith("/")
    assert capsys.readouterr().out == f"Start upload for {user}\nFast upload: URL was {url}\n"
    assert workflow_output(deployment, user).json() == url
    assert logs.count(f" >>> Creating bucket with URL {url}") == 1
    assert logs.count(f" >>> Uploading data to target {url}. ETA: 100ms") == 1
    assert logs.containing("Sending email") == []


@pytest.mark.slow
def test_a_slow_upload_sends_the_url_by_email_once_it_is_done(
    deployment: Deployment, slow: None, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    user = unique("user")
    assert asyncio.run(client.main(user, deployment.ingress_url)) == ""
    assert capsys.readouterr().out == f"Start upload for {user}\nSlow upload... Mail the link later\n"
    assert workflow_output(deployment, user).status_code == 470  # still uploading: the client gave up, not the workflow

    email = f"Sending email to '{user}@example.com' with URL"
    eventually(lambda: logs.containing(email), timeout=30)
    # The email goes out just before the workflow returns: attaching waits for its result.
    url = http.get(f"{deployment.ingress_url}/restate/workflow/dataUploader/{user}/attach", timeout=30).json()
    messages = logs.messages("dataupload")
    assert messages.count(f" >>> {email} {url}") == 1  # exactly one email, with the workflow's URL
    upload = messages.index(f" >>> Uploading data to target {url}. ETA: 3000ms")
    asked = messages.index("Slow upload: client requested to be notified via email.")
    assert upload < asked < messages.index(f" >>> {email} {url}")
    assert logs.count(f" >>> Creating bucket with URL {url}") == 1


def test_running_the_client_again_for_an_id_creates_no_second_bucket(
    deployment: Deployment, fast: None, logs: Logs
) -> None:
    user = unique("user")
    first = asyncio.run(client.main(user, deployment.ingress_url))
    again = asyncio.run(client.main(user, deployment.ingress_url))
    assert first == again != ""
    assert len(logs.containing(" >>> Creating bucket with URL")) == 1
    assert len(logs.containing(" >>> Uploading data to target")) == 1
    # A second synchronous run is refused: the workflow runs once per id.
    response = http.post(f"{deployment.ingress_url}/dataUploader/{user}/run", timeout=30)
    assert response.status_code == 409, response.text


@pytest.mark.parametrize("body", [{"mail": "a@example.com"}, {"email": "not an address"}, {"email": 7}, "plain"])
def test_result_as_email_with_a_bad_address_gets_a_400(
    deployment: Deployment, fast: None, body: object, logs: Logs
) -> None:
    user = unique("user")
    response = http.post(f"{deployment.ingress_url}/dataUploader/{user}/resultAsEmail", json=body, timeout=30)
    assert response.status_code == 400, response.text
    assert "EmailRequest" in response.json()["message"]
    assert logs.containing("Slow upload: client requested") == []


def run_client(ingress_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dataupload.client", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "RESTATE_INGRESS_URL": ingress_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_client_command_line_with_a_random_id(deployment: Deployment, fast: None) -> None:
    run = run_client(deployment.ingress_url)
    assert run.returncode == 0, run.stderr
    start, result = run.stdout.splitlines()
    user = start.removeprefix("Start upload for ")
    assert str(uuid.UUID(user)) == user
    assert result == f"Fast upload: URL was {workflow_output(deployment, user).json()}"


def test_client_says_when_restate_is_unreachable() -> None:
    run = run_client(f"http://127.0.0.1:{free_port()}", "user1")
    assert run.returncode == 1
    assert "Restate is unreachable" in run.stderr and "Slow upload" not in run.stdout


def test_client_refuses_a_bad_id() -> None:
    run = run_client("http://127.0.0.1:1", "a/b")
    assert run.returncode == 2 and "use 1 to 64 letters" in run.stderr


@pytest.mark.walkthrough(
    env={
        "PATTERNS_CHANCE_DATAUPLOAD_SLOW_UPLOAD": "first:1",  # the first upload is slow, the others fast
        "PATTERNS_DURATION_DATAUPLOAD_SLOW_UPLOAD": "2s",
        "PATTERNS_DURATION_DATAUPLOAD_FAST_UPLOAD": "100ms",
        "PATTERNS_DURATION_DATAUPLOAD_CLIENT_TIMEOUT": "500ms",
    }
)
@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "dataupload" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows

    def emails() -> list[str]:
        return [line for line in dev_stack.log("dataupload") if "Sending email to 'user1@example.com'" in line]

    eventually(emails, timeout=30)
    assert len(emails()) == 1
