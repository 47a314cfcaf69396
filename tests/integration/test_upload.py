"""Resumable uploads, TUS subset (http-api.md §4.11): relay validates the TUS headers and
forwards creation and data requests to its upstream with the same protocol."""

import base64
import json

import pytest

from fixtures.asserts import assert_cors, assert_json_error, assert_plain_text, assert_status
from fixtures.projects import DEFAULT_DSN_KEY, disabled_project_config, new_dsn_key
from fixtures.util import compress, decompress, wait_until

AUTH = "?sentry_key=%s" % DEFAULT_DSN_KEY
CREATE_PATH = "/api/42/upload/"
UPLOAD_KEY = "c0ffee"
DATA_PATH = "/api/42/upload/%s/" % UPLOAD_KEY
UPSTREAM_LOCATION = "/api/42/upload/%s/?length=11&signature=abc.def" % UPLOAD_KEY
DATA = b"hello world" * 40


def sentry_metadata(value):
    return "filename bWluaWR1bXA=,sentry " + base64.b64encode(json.dumps(value).encode()).decode()


def create_headers(**extra):
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(DATA))}
    headers.update(extra)
    return {name: value for name, value in headers.items() if value is not None}


def data_headers(**extra):
    headers = {
        "Tus-Resumable": "1.0.0",
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": "0",
    }
    headers.update(extra)
    return {name: value for name, value in headers.items() if value is not None}


@pytest.fixture
def tus_upstream(upstream):
    """The upstream's side of the protocol: creation answers 201 + Location, data 204."""

    def create(request):
        return 201, [("Location", UPSTREAM_LOCATION), ("Tus-Resumable", "1.0.0")], b""

    def append(request):
        return 204, [("Upload-Offset", str(len(request.body))), ("Tus-Resumable", "1.0.0")], b""

    upstream.add_route("POST", r"^/api/42/upload/$", create)
    upstream.add_route("PATCH", r"^/api/42/upload/%s/$" % UPLOAD_KEY, append)
    return upstream


def create(relay, headers, query=AUTH):
    return relay.post(CREATE_PATH + query, headers=headers)


def append(relay, body, headers, query=AUTH):
    return relay.request("PATCH", DATA_PATH + query, data=body, headers=headers)


def no_upload_requests(upstream):
    return upstream.requests_to(r"^/api/42/upload/") == []


# --- creation ------------------------------------------------------------------------------


def test_creation_is_forwarded_and_the_location_passed_through(proxy_relay, tus_upstream):
    metadata = sentry_metadata({"attachment_type": "event.minidump"})
    response = create(proxy_relay, create_headers(**{"Upload-Metadata": metadata}))
    assert_status(response, 201)
    assert response.headers["Location"] == UPSTREAM_LOCATION
    assert response.content == b""
    assert_cors(response)
    [forwarded] = tus_upstream.requests_to(r"^/api/42/upload/$", method="POST")
    assert forwarded.query == AUTH[1:]
    assert forwarded.headers["Tus-Resumable"] == "1.0.0"
    assert forwarded.headers["Upload-Length"] == str(len(DATA))
    assert forwarded.headers["Upload-Metadata"] == metadata
    assert forwarded.body == b""
    assert forwarded.headers.get("Content-Type") is None


def test_creation_with_deferred_length(proxy_relay, tus_upstream):
    response = create(proxy_relay, create_headers(**{"Upload-Length": None, "Upload-Defer-Length": "1"}))
    assert_status(response, 201)
    [forwarded] = tus_upstream.requests_to(r"^/api/42/upload/$", method="POST")
    assert forwarded.headers["Upload-Defer-Length"] == "1"
    assert forwarded.headers.get("Upload-Length") is None


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0.1"])
def test_creation_without_tus_1_0_0_is_412(proxy_relay, tus_upstream, version):
    response = create(proxy_relay, create_headers(**{"Tus-Resumable": version}))
    assert_status(response, 412)
    assert response.headers["Tus-Version"] == "1.0.0"
    assert_cors(response)
    assert no_upload_requests(tus_upstream)


def test_creation_with_content_type_is_415(proxy_relay, tus_upstream):
    response = create(proxy_relay, create_headers(**{"Content-Type": "application/offset+octet-stream"}))
    assert_status(response, 415)
    assert no_upload_requests(tus_upstream)


@pytest.mark.parametrize(
    "headers",
    [
        {"Upload-Length": None},
        {"Upload-Defer-Length": "1"},
        {"Upload-Length": "ten"},
        {"Upload-Length": "-5"},
        {"Upload-Length": None, "Upload-Defer-Length": "0"},
        {"Upload-Metadata": "sentry not-base64!"},
        {"Upload-Metadata": "sentry " + base64.b64encode(b"[1, 2]").decode()},
        {"Upload-Metadata": sentry_metadata({"attachment_type": 7})},
    ],
)
def test_creation_with_bad_length_or_metadata_is_400(proxy_relay, tus_upstream, headers):
    response = create(proxy_relay, create_headers(**headers))
    assert_status(response, 400)
    assert response.json()["detail"]
    assert no_upload_requests(tus_upstream)


def test_creation_over_max_upload_size_is_413(relay, tus_upstream):
    small = relay(tus_upstream, mode="proxy", config={"limits": {"max_upload_size": "1KiB"}})
    assert_status(create(small, create_headers(**{"Upload-Length": "1024"})), 201)
    response = create(small, create_headers(**{"Upload-Length": "1025"}))
    assert_json_error(response, 413, "`Upload-Length` 1025 exceeds the maximum upload size of 1024 bytes")


def test_creation_requires_auth(proxy_relay, tus_upstream):
    assert_json_error(create(proxy_relay, create_headers(), query=""), 401, "missing authorization information")
    assert no_upload_requests(tus_upstream)


def test_upstream_errors_are_passed_through(proxy_relay, upstream):
    upstream.add_route(
        "POST", r"^/api/42/upload/$", lambda r: (403, [("Content-Type", "application/json")], b'{"detail":"nope"}')
    )
    response = create(proxy_relay, create_headers())
    assert_status(response, 403)
    assert response.json() == {"detail": "nope"}


def test_disabled_project_is_403_in_managed_mode(relay, tus_upstream):
    key = new_dsn_key()
    tus_upstream.project_configs[key] = disabled_project_config(public_key=key)
    managed = relay(tus_upstream, mode="managed")

    def refused():
        response = create(managed, create_headers(), query="?sentry_key=%s" % key)
        return (response,) if response.status_code == 403 else None

    (response,) = wait_until(refused, message="the disabled project was never refused")
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")


# --- data ----------------------------------------------------------------------------------


def test_data_is_forwarded_compressed_per_http_encoding(proxy_relay, tus_upstream):
    response = append(proxy_relay, DATA, data_headers())
    assert_status(response, 204)
    assert response.headers["Upload-Offset"] == str(len(DATA))
    assert_cors(response)
    [forwarded] = tus_upstream.requests_to(r"^/api/42/upload/%s/$" % UPLOAD_KEY, method="PATCH")
    assert forwarded.query == AUTH[1:]
    assert forwarded.headers["Content-Encoding"] == "zstd"
    assert decompress(forwarded.raw_body, "zstd") == DATA
    assert forwarded.headers["X-Decoded-Content-Length"] == str(len(DATA))
    assert forwarded.headers["Content-Type"] == "application/offset+octet-stream"
    assert forwarded.headers["Upload-Offset"] == "0"
    assert forwarded.headers["Tus-Resumable"] == "1.0.0"


def test_data_is_forwarded_uncompressed_with_identity_encoding(relay, tus_upstream):
    plain = relay(tus_upstream, mode="proxy", config={"http": {"encoding": "identity"}})
    assert_status(append(plain, DATA, data_headers()), 204)
    [forwarded] = tus_upstream.requests_to(r"^/api/42/upload/%s/$" % UPLOAD_KEY, method="PATCH")
    assert forwarded.headers.get("Content-Encoding") is None
    assert forwarded.headers.get("X-Decoded-Content-Length") is None
    assert forwarded.raw_body == DATA


def test_compressed_client_data_is_decoded_and_recompressed(relay, tus_upstream):
    gzip_relay = relay(tus_upstream, mode="proxy", config={"http": {"encoding": "gzip"}})
    body = compress(DATA, "br")
    headers = data_headers(**{"Content-Encoding": "br", "X-Decoded-Content-Length": str(len(DATA))})
    assert_status(append(gzip_relay, body, headers), 204)
    [forwarded] = tus_upstream.requests_to(r"^/api/42/upload/%s/$" % UPLOAD_KEY, method="PATCH")
    assert forwarded.headers["Content-Encoding"] == "gzip"
    assert decompress(forwarded.raw_body, "gzip") == DATA
    assert forwarded.headers["X-Decoded-Content-Length"] == str(len(DATA))


@pytest.mark.parametrize(
    "headers,status",
    [
        ({"Tus-Resumable": None}, 412),
        ({"Content-Type": None}, 415),
        ({"Content-Type": "application/octet-stream"}, 415),
        ({"Upload-Offset": None}, 400),
        ({"Upload-Offset": "abc"}, 400),
        ({"Upload-Offset": "5"}, 409),
        ({"X-Decoded-Content-Length": "many"}, 400),
        ({"X-Decoded-Content-Length": "3"}, 400),
    ],
)
def test_bad_data_requests_are_refused(proxy_relay, tus_upstream, headers, status):
    response = append(proxy_relay, DATA, data_headers(**headers))
    assert_status(response, status)
    if status == 412:
        assert response.headers["Tus-Version"] == "1.0.0"
    assert_cors(response)
    assert no_upload_requests(tus_upstream)


def test_data_over_max_upload_size_is_413(relay, tus_upstream):
    small = relay(tus_upstream, mode="proxy", config={"limits": {"max_upload_size": "1KiB"}})
    response = append(small, b"x" * 2048, data_headers())
    assert_plain_text(response, 413, "Failed to buffer the request body: length limit exceeded")
    assert no_upload_requests(tus_upstream)


def test_data_requires_auth(proxy_relay, tus_upstream):
    response = append(proxy_relay, DATA, data_headers(), query="")
    assert_json_error(response, 401, "missing authorization information")


def test_post_to_data_path_is_405(proxy_relay):
    response = proxy_relay.post(DATA_PATH + AUTH, data=DATA)
    assert_status(response, 405)
    assert response.headers["Allow"] == "PATCH"
