"""The fake-server harness other fakes build on: routes, the request log, and faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.http import MALFORMED_BODY, FakeServer, Fault, Request, Response, json_response


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A fake with one route echoing a path parameter and a query argument."""
    fake = FakeServer()

    def hello(request: Request) -> Response:
        return json_response({"hi": request.params["name"], "page": request.arg("page")})

    fake.route("GET", r"/hello/(?P<name>\w+)", hello)
    with fake:
        yield fake


def test_routes_answer_and_every_request_is_recorded(server: FakeServer) -> None:
    answer = requests.get(f"{server.url}/hello/ana?page=2", timeout=5)
    assert answer.json() == {"hi": "ana", "page": "2"}
    assert requests.get(f"{server.url}/nowhere", timeout=5).status_code == 404
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/hello/ana"),
        ("GET", "/nowhere"),
    ]
    assert server.requests[0].query == {"page": ["2"]}


def test_a_fault_fires_on_the_nth_matching_request_for_n_times(server: FakeServer) -> None:
    fault = server.add_fault(
        Fault(
            status=429, headers={"Retry-After": "3"}, body={"e": 1}, path="/hello", nth=2, times=2
        )
    )
    statuses = [requests.get(f"{server.url}/hello/bo", timeout=5) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 429, 200]
    assert statuses[1].headers["Retry-After"] == "3"
    assert statuses[1].json() == {"e": 1}
    assert fault.fired == 2


def test_malformed_and_forever_faults(server: FakeServer) -> None:
    server.add_fault(Fault(malformed=True, times=0))
    for _ in range(2):
        answer = requests.get(f"{server.url}/hello/bo", timeout=5)
        assert answer.status_code == 200
        assert answer.content == MALFORMED_BODY
    server.clear_faults()
    assert requests.get(f"{server.url}/hello/bo", timeout=5).json()["hi"] == "bo"


def test_a_hang_is_ended_by_the_clients_timeout(server: FakeServer) -> None:
    server.add_fault(Fault(hang=10))
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.url}/hello/bo", timeout=0.3)
    assert requests.get(f"{server.url}/hello/bo", timeout=5).status_code == 200
