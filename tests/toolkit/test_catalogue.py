"""Pattern discovery, service-name collisions and the dev runner's example lines."""

from __future__ import annotations

from patterns.catalogue import Pattern, load_patterns, pattern_names, resolve_collisions
from patterns.examples import example_curl, example_value
from patterns.registration import Handler, Service, parse_services


def service(name: str, *handlers: Handler, kind: str = "SERVICE") -> Service:
    return Service(name, kind, handlers)


def test_every_pattern_folder_is_found_and_defines_services() -> None:
    names = pattern_names()
    assert "durablerpc" in names and "patterns" not in names
    patterns = load_patterns()
    assert [p.name for p in patterns] == names
    assert all(p.services for p in patterns)
    durablerpc = next(p for p in patterns if p.name == "durablerpc")
    assert durablerpc.services == (Service("product", "VIRTUAL_OBJECT", (Handler("reserve", "EXCLUSIVE", None),)),)
    assert durablerpc.has_api


def test_what_the_patterns_declare_is_read_without_their_apps() -> None:
    declared = {p.name: p for p in load_patterns(["eventtransactions", "signalspayments"], services=False)}
    assert declared["eventtransactions"].services == ()  # the app was not imported
    assert declared["eventtransactions"].needs == ("kafka",)
    assert declared["eventtransactions"].subscriptions == (("social-media-posts", "userFeed/processPost"),)
    assert declared["signalspayments"].needs == ("stripe",)
    assert declared["signalspayments"].webhooks == (("stripe", "payments/processWebhook"),)


def test_a_later_pattern_that_reuses_a_service_name_is_left_out() -> None:
    signals = Pattern("signalspayments", (service("payments"),))
    machine = Pattern("statemachinepayments", (service("accounts"), service("payments")))
    sagas = Pattern("sagas", (service("BookingWorkflow"),))

    kept, left_out = resolve_collisions([sagas, signals, machine])

    assert [p.name for p in kept] == ["sagas", "signalspayments"]
    assert [(c.pattern, c.services, c.taken_by) for c in left_out] == [
        ("statemachinepayments", ("payments",), "signalspayments")
    ]


def test_the_patterns_on_disk_today_do_not_collide_silently() -> None:
    patterns = load_patterns()
    kept, left_out = resolve_collisions(patterns)
    served = [name for p in kept for name in p.service_names]
    assert len(served) == len(set(served))  # every service name belongs to one served pattern
    assert {p.name for p in kept} | {c.pattern for c in left_out} == {p.name for p in patterns}
    # As the README says ("Service names shared by two patterns"): these run alone, `make dev PATTERNS=<name>`.
    assert sorted((c.pattern, c.services, c.taken_by) for c in left_out) == [
        ("ratelimit", ("myService",), "priorityqueue"),
        ("statemachinepayments", ("payments",), "signalspayments"),
        ("webhookcallbacks", ("PaymentTracker",), "schedulingtasks"),
    ]


def test_example_curl_lines() -> None:
    product = service("product", Handler("reserve", "EXCLUSIVE", None), kind="VIRTUAL_OBJECT")
    assert example_curl("localhost:8080", product, product.handlers[0]) == (
        "curl -X POST localhost:8080/product/key1/reserve"
    )
    schema = {
        "type": "object",
        "properties": {"flights": {"$ref": "#/$defs/Flight"}, "note": {"type": "string", "default": "hi"}},
        "required": ["flights"],
        "$defs": {
            "Flight": {
                "type": "object",
                "properties": {"flightId": {"type": "string", "examples": ["f1"]}, "seats": {"type": "integer"}},
            }
        },
    }
    worker = service("worker", Handler("run", None, schema))
    assert example_curl("localhost:8080", worker, worker.handlers[0]) == (
        """curl localhost:8080/worker/run --json '{"flights":{"flightId":"f1","seats":1}}'"""
    )
    assert example_value({"anyOf": [{"type": "null"}, {"type": "boolean"}]}) is True
    internal = service("idempotency", Handler("expireIdempotencyKey", None, {"type": "string"}, ingress_private=True))
    assert example_curl("localhost:8080", internal, internal.handlers[0]).startswith("(internal:")
    assert example_value({"type": ["object", "null"], "properties": {"a": {"type": "integer"}}}) == {"a": 1}


def test_private_handlers_and_handlers_without_input_are_read_from_the_manifest() -> None:
    manifest = {
        "services": [
            {
                "name": "tracker",
                "ty": "VIRTUAL_OBJECT",
                "handlers": [
                    {
                        "name": "remind",
                        "ty": "EXCLUSIVE",
                        "input": {"jsonSchema": {"type": "object"}},
                        "ingressPrivate": True,
                    },
                    {"name": "status", "ty": "SHARED", "input": {"required": False, "contentType": "application/json"}},
                    {"name": "raw", "ty": "EXCLUSIVE", "input": {"contentType": "*/*", "jsonSchema": True}},
                ],
            },
            {"name": "internal", "ty": "SERVICE", "ingressPrivate": True, "handlers": [{"name": "h", "input": {}}]},
        ]
    }
    tracker, internal = parse_services(manifest)
    assert [(h.name, h.ingress_private, h.input_schema) for h in tracker.handlers] == [
        ("remind", True, {"type": "object"}),
        ("status", False, None),  # `_: NoInput`: an optional input without schema is no input
        ("raw", False, {}),  # any JSON
    ]
    assert internal.handlers[0].ingress_private  # the whole service is private
    assert (
        example_curl("localhost:8080", tracker, tracker.handlers[1])
        == "curl -X POST localhost:8080/tracker/key1/status"
    )


def test_the_dev_runner_prints_no_curl_line_for_a_private_handler() -> None:
    [schedulingtasks] = load_patterns(["schedulingtasks"])
    [tracker] = schedulingtasks.services
    lines = {handler.name: example_curl("localhost:8080", tracker, handler) for handler in tracker.handlers}
    assert lines["remind"].startswith("(internal:") and lines["onPaymentFailure"].startswith("curl ")
