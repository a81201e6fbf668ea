"""The gateway's own answers, through a started nginx: its refusals are JSON like the API's
(`{"detail": ...}`; a 405 with the `Allow` the service would give), and the services' health
and metrics are not served to the outside."""

import httpx

from devstack.processes import free_port, start_gateway

SECURITY_HEADERS = ("X-Request-ID", "X-Content-Type-Options", "Content-Security-Policy")


def assert_json_error(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text[:200])
    assert answer.headers["content-type"] == "application/json", answer.headers
    for header in SECURITY_HEADERS:
        assert header in answer.headers, header
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def test_the_gateways_own_refusals_are_json(stack):
    gateway = httpx.Client(base_url=stack.gateway, timeout=10)

    too_large = gateway.post(
        "/api/post", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
    )
    assert "256 KiB" in assert_json_error(too_large, 413)

    assert_json_error(gateway.get("/api/post", params={"q": "a" * 20_000}), 414)
    assert_json_error(gateway.get("/" + "a" * 20_000), 414)


def test_the_gateways_own_405_names_the_methods_the_service_names(stack):
    """nginx refuses TRACE itself, before any routing; its 405 tells what the service would."""
    gateway = httpx.Client(base_url=stack.gateway, timeout=10)
    for path in ("/api/post", "/api/signin", f"/api/post/{'0' * 24}"):
        by_gateway = gateway.request("TRACE", path)
        assert_json_error(by_gateway, 405)
        by_service = gateway.request("PATCH", path)
        assert by_service.status_code == 405, path
        assert by_gateway.headers["allow"] == by_service.headers["allow"], path


def test_the_rate_limit_answers_json(stack):
    strict = stack.start_gateway("json-strict-gateway", rate_limit="1r/s")
    try:
        body = {"email": "nobody@example.com", "password": "guess-guess"}
        answers = [httpx.post(f"{strict}/api/signin", json=body, timeout=10) for _ in range(20)]
    finally:
        stack.processes.pop("json-strict-gateway").stop()
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(refused) >= 5  # 1 r/s with a burst of 10
    for answer in refused:
        assert_json_error(answer, 429)
    assert answers[0].json() == {"detail": "invalid email or password"}  # the service's own


def test_readyz_and_metrics_are_not_served_through_the_gateway(stack):
    gateway = httpx.Client(base_url=stack.gateway, timeout=10)
    for path in ("/readyz", "/metrics"):
        answer = gateway.get(path)
        assert answer.status_code == 404, (path, answer.text[:100])
        assert answer.headers["content-type"] == "application/json", path
        assert answer.json() == {"detail": "not found"}, path
    assert gateway.get("/healthz").json() == {"status": "ok"}  # the gateway's own stays
    # ... while each service still answers them on its own port, for the probes.
    for service in ("auth", "post", "notification"):
        assert httpx.get(f"{stack.urls[service]}/readyz").status_code == 200, service
        assert httpx.get(f"{stack.urls[service]}/metrics").status_code == 200, service


def test_a_service_that_is_down_is_a_json_502(tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    upstreams = {"auth": [nowhere], "post": [nowhere], "notification": [nowhere]}
    proc, base = start_gateway("dead-upstreams-gateway", tmp_path / "gateway", upstreams)
    try:
        assert_json_error(httpx.get(f"{base}/api/post", timeout=10), 502)
        assert_json_error(httpx.post(f"{base}/api/signin", json={}, timeout=10), 502)
    finally:
        proc.stop()
