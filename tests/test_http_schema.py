"""schemathesis against the served OpenAPI: no 5xx, responses as documented, every error in
the one documented shape. Kept short for CI (at most 50 examples per operation)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")  # in the project's `test` extra
from hypothesis import HealthCheck, settings  # noqa: E402
# imported here, at a shallow stack: schemathesis imports it lazily deep inside hypothesis's
# generation, where compiling it tripped CPython 3.11's AST recursion check in the full suite
# ("SystemError: AST constructor recursion depth mismatch")
import schemathesis.generation.dictionaries  # noqa: E402,F401
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import CACHE_DIR, make_image  # noqa: E402
from searchengine.http.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, tiny_clip):
    from searchengine import SearchEngine, Settings

    base = tmp_path_factory.mktemp("schema")
    media = base / "media"
    for i in range(3):
        make_image(media / f"p{i}.png", seed=i)
    (media / "note.md").write_text("a dog running on a beach")
    engine = SearchEngine.open("schema", settings=Settings(index_root=base / "indexes", model=tiny_clip, batch_size=4,
                                                                  cache_dir=CACHE_DIR))
    engine.index([media])
    app = create_app(engine, max_upload_bytes=200_000, allowed_hosts=["testserver"])  # the ASGI client's Host
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    engine.close()


CALLS: list[int] = []


def test_the_api_keeps_its_contract(api_schema):
    """Every operation, fuzzed (schemathesis' ``from_fixture`` does not run on pytest 9, so
    the operations are walked here, each under its own Hypothesis run)."""
    from hypothesis import given

    labels = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call()
            CALLS.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     content_type_conformance, response_schema_conformance])
            if response.status_code >= 400 and case.method != "HEAD":
                body = response.json()
                assert set(body) == {"error"}, body
                error = body["error"]
                assert error["status"] == response.status_code and error["code"] and error["message"], body

        check()
    assert len(labels) >= 10, labels
    assert len(CALLS) >= 100 and any(s < 300 for s in CALLS) and any(s >= 400 for s in CALLS)
