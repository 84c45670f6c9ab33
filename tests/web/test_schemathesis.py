"""Property-based fuzzing of the JSON API from its OpenAPI schema (schemathesis, in-process ASGI).

Every operation is called, logged in with a valid CSRF token, with schema-conforming data and
with schema-violating data, and once more with the ids of existing records. The responses must
never be 5xx, must use a documented status code and content type, and must match the documented
response schema. The budget is small (a few examples per operation) so the test stays fast.
"""

from __future__ import annotations

import re

import pytest
from conftest import add_visit, create_patient, register
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Logging out would end the fuzzing session itself.
SKIP = {("POST", "/api/v1/auth/logout")}
EXAMPLES = 8


def test_api_conforms_to_its_schema_and_never_fails(app):
    with TestClient(app) as client:  # runs the app's startup (built-in criteria sets)
        token = register(client, "fuzzer")["csrf_token"]
        patient = create_patient(client)
        visit = add_visit(client, patient["id"])
        criteria = client.get("/api/v1/criteria-sets").json()
        cookie = client.cookies.get("alsim_session")
    headers = {"X-CSRF-Token": token, "Cookie": f"alsim_session={cookie}"}
    known = {"patient_id": patient["id"], "visit_id": visit["id"]}
    if criteria:
        known["set_id"] = criteria[0]["id"]

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    tried = 0
    for operation in operations:
        method = operation.method.upper()
        if (method, operation.path) in SKIP or not operation.path.startswith("/api/"):
            continue
        names = re.findall(r"\{(\w+)\}", operation.path)
        passes = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if names and method != "DELETE" and all(n in known for n in names):
            passes.append((GenerationMode.POSITIVE, {n: known[n] for n in names}))
        for mode, path_parameters in passes:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                continue  # nothing in this operation can be made invalid
            tried += 1
    assert tried >= 40
