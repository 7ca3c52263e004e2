"""durablepromise: first completion wins, awaiters anywhere get the value, dispose fails pending awaiters."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest

from durablepromise import example1, example4
from durablepromise.clients import PromiseRejected, durable_promise
from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deployment, eventually, state, unique
from tests.readme import DevStack, normalise, output_blocks, run_step, steps

BARACK = {"name": "Barack", "email": "b@whitehouse.gov"}


def call(deployment: Deployment, operation: str, body: Any) -> httpx.Response:
    return http.post(f"{deployment.ingress_url}/promise/{operation}", json=body, timeout=30)


def send_await(deployment: Deployment, promise_id: str) -> str:
    sent = http.post(f"{deployment.ingress_url}/promise/await/send", json={"promiseId": promise_id}, timeout=30)
    invocation: str = sent.json()["invocationId"]
    return invocation


def attach(deployment: Deployment, invocation: str) -> httpx.Response:
    return http.get(f"{deployment.ingress_url}/restate/invocation/{invocation}/attach", timeout=30)


def listeners(deployment: Deployment, promise_id: str) -> int:
    return len(deployment.state("promises", promise_id).get("listeners", []))


def test_peek_on_a_fresh_id_is_null(deployment: Deployment) -> None:
    response = call(deployment, "peek", {"promiseId": unique("prom")})
    assert (response.status_code, response.text) == (200, "null")


def test_await_then_resolve_first_completion_wins(deployment: Deployment) -> None:
    promise_id = unique("prom")
    waiting = send_await(deployment, promise_id)
    eventually(lambda: listeners(deployment, promise_id) == 1)

    resolved = call(deployment, "resolve", {"promiseId": promise_id, "value": BARACK})
    again = call(deployment, "resolve", {"promiseId": promise_id, "value": "someone else"})
    rejected = call(deployment, "reject", {"promiseId": promise_id, "errorMessage": "help!"})

    assert resolved.json() == {"value": BARACK}
    assert attach(deployment, waiting).json() == {"value": BARACK}
    assert again.json() == {"value": BARACK}
    assert rejected.json() == {"value": BARACK}
    assert call(deployment, "peek", {"promiseId": promise_id}).json() == {"value": BARACK}
    # An await after completion answers at once.
    assert call(deployment, "await", {"promiseId": promise_id}).json() == {"value": BARACK}
    assert deployment.state("promises", promise_id) == {"value": {"value": BARACK}}


def test_reject_first_keeps_the_error(deployment: Deployment) -> None:
    promise_id = unique("prom")
    assert call(deployment, "reject", {"promiseId": promise_id, "errorMessage": "help!"}).json() == {"error": "help!"}
    assert call(deployment, "resolve", {"promiseId": promise_id, "value": 1}).json() == {"error": "help!"}
    assert call(deployment, "await", {"promiseId": promise_id}).json() == {"error": "help!"}


def test_dispose_fails_pending_awaiters_and_clears_the_state(deployment: Deployment) -> None:
    promise_id = unique("prom")
    waiting = [send_await(deployment, promise_id) for _ in range(2)]
    eventually(lambda: listeners(deployment, promise_id) == 2)

    assert call(deployment, "dispose", {"promiseId": promise_id}).status_code == 200

    for invocation in waiting:
        failed = attach(deployment, invocation)
        assert failed.status_code == 500
        assert failed.json()["message"] == "promise was disposed"
    assert deployment.state("promises", promise_id) == {}
    assert call(deployment, "peek", {"promiseId": promise_id}).text == "null"


def example2(deployment: Deployment, promise_id: str, role: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "durablepromise.example2", promise_id, deployment.ingress_url, "--role", role],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_concurrent_awaiters_in_separate_processes_all_get_the_value(deployment: Deployment) -> None:
    promise_id = unique("prom")
    awaiters = [example2(deployment, promise_id, "await") for _ in range(3)]
    try:
        eventually(lambda: listeners(deployment, promise_id) == 3, timeout=30)
        resolver = example2(deployment, promise_id, "resolve")
        resolver_out, _ = resolver.communicate(timeout=30)
        outputs = [awaiter.communicate(timeout=30)[0] for awaiter in awaiters]
    finally:
        for awaiter in awaiters:
            awaiter.kill()
    value = f"Completed by {resolver.pid}"
    assert f"{resolver.pid} : '{promise_id}' actually resolved to '{value}'" in resolver_out
    for awaiter, output in zip(awaiters, outputs, strict=True):
        assert awaiter.returncode == 0
        assert f"{awaiter.pid} : Got result for '{promise_id}' = '{value}'" in output


def test_example3_forks_agree_on_one_value(deployment: Deployment) -> None:
    promise_id = unique("prom")
    run = subprocess.run(
        [sys.executable, "-m", "durablepromise.example3", promise_id, deployment.ingress_url, "5"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "Running 5 forks of the promise example process..." and lines[-1] == "Done."
    results = {line.rsplit(" = ", 1)[1] for line in lines if "Got result" in line}
    results |= {line.rsplit(" to ", 1)[1] for line in lines if "actually resolved to" in line}
    assert len(results) == 1, lines  # every process saw the same, first, value
    assert sum("will RESOLVE" in line for line in lines) >= 1


async def test_client_library_over_the_ingress(deployment: Deployment) -> None:
    promise = durable_promise(unique("prom"), deployment.ingress_url)
    assert await promise.peek() is None
    assert await promise.resolve([1, 2]) == [1, 2]
    assert await promise.get() == [1, 2]
    assert await promise.reject("too late") == [1, 2]

    rejected = durable_promise(unique("prom"), deployment.ingress_url)
    with pytest.raises(PromiseRejected, match="nope"):
        await rejected.reject("nope")
    with pytest.raises(PromiseRejected, match="nope"):
        await rejected.get()


async def test_example1(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    await example1.main(unique("prom"), deployment.ingress_url)
    assert capsys.readouterr().out.splitlines() == [
        "Peeked value: null",
        "Actual result after completing: This promise will notify everyone",
        "Actual result after rejection: This promise will notify everyone",
        "Result value: This promise will notify everyone",
    ]


async def test_example4_qna_uses_promises_from_handlers(deployment: Deployment) -> None:
    question = unique("question")
    assert await example4.main(question, deployment.ingress_url) == '{"answer":"42"}'
    # The promise is the question id: a second answer does not change it.
    async with httpx.AsyncClient(base_url=deployment.ingress_url, timeout=30) as http:
        second = await http.post("/qna/answer", json={"questionId": question, "answer": "43"})
        assert second.status_code == 200
        assert (await http.post("/qna/ask", json=question)).json() == {"answer": "42"}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("promise/peek", {}, "promiseId\n  Field required"),
        ("promise/await", {"value": 1}, "promiseId\n  Field required"),
        ("promise/reject", {"promiseId": "p-bad"}, "errorMessage\n  Field required"),
        ("promise/reject", {"promiseId": "p-bad", "errorMessage": 5}, "errorMessage\n  Input should be a valid string"),
        ("promise/resolve", {"promiseId": "", "value": 1}, "Value error, invalid key ''"),
        ("qna/ask", 5, "Input should be a valid string"),
        ("qna/answer", {"questionId": "p-bad"}, "answer\n  Field required"),
    ],
)
def test_bad_requests_get_400(deployment: Deployment, path: str, body: Any, message: str) -> None:
    response = http.post(f"{deployment.ingress_url}/{path}", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Unable to parse an input argument.")
    assert message in response.json()["message"]
    assert deployment.state("promises", "p-bad") == {}


def test_the_promises_object_is_not_reachable_through_the_ingress(deployment: Deployment) -> None:
    response = http.post(f"{deployment.ingress_url}/promises/p-bad/reject", json="help!", timeout=30)
    assert response.status_code == 400
    assert response.json()["message"] == "the invoked service is not public"
    assert deployment.state("promises", "p-bad") == {}


def test_resolve_without_a_value_resolves_with_null(deployment: Deployment) -> None:
    promise_id = unique("prom")
    assert call(deployment, "resolve", {"promiseId": promise_id}).json() == {"value": None}
    assert call(deployment, "peek", {"promiseId": promise_id}).json() == {"value": None}
    assert call(deployment, "resolve", {"promiseId": promise_id, "value": 1}).json() == {"value": None}  # null won


def test_readme_walkthrough(dev_stack: DevStack) -> None:
    register = next(step for step in steps(README) if "deployments register" in " ".join(step.commands))
    run_step(register, dev_stack.port_map, dev_stack.command_env, REPO_ROOT)
    in_two_shells = readme_await_then_resolve_in_two_shells(dev_stack)
    compared = dev_stack.run_walkthrough(README)
    assert sorted(set(compared + in_two_shells)) == output_blocks(README)  # every output it shows


README = REPO_ROOT / "durablepromise" / "README.md"


def readme_await_then_resolve_in_two_shells(stack: DevStack) -> list[int]:
    """The README's "await in a second shell, resolve in the first" lines: the await (a `shell start` block, as
    it blocks) runs in the background, then the resolve completes it; both print the README's output.
    Returns the lines of the two output blocks compared."""
    readme = steps(README)
    awaiting = next(step for step in readme if step.start and "promise/await" in " ".join(step.commands))
    resolving = next(
        step
        for step in readme
        if not step.start and "resolve" in " ".join(step.commands) and "prom-2" in " ".join(step.commands)
    )
    outputs: dict[str, str] = {}

    def await_in_second_shell() -> None:
        outputs["await"] = run_step(awaiting, stack.port_map, stack.command_env, REPO_ROOT)

    second_shell = threading.Thread(target=await_in_second_shell)
    second_shell.start()
    admin_url = stack.command_env["RESTATE_ADMIN_URL"]
    eventually(lambda: state(admin_url, "promises", "prom-2").get("listeners"), timeout=30)  # it is waiting
    assert "await" not in outputs
    resolved = run_step(resolving, stack.port_map, stack.command_env, REPO_ROOT)
    second_shell.join(30)

    assert awaiting.expected is not None and resolving.expected is not None
    assert normalise(outputs["await"]) == normalise(awaiting.expected)
    assert normalise(resolved) == normalise(resolving.expected)
    assert awaiting.expected_line is not None and resolving.expected_line is not None
    return [awaiting.expected_line, resolving.expected_line]
