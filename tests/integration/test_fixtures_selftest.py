"""Self-tests of the test infrastructure; they do not need the relay binary.

They exercise the fake upstream with requests signed in Python (so its verification is known to
accept correct signatures and reject bad ones) and round-trip the envelope helper through the
spec's framing examples.
"""

import datetime
import email.parser
import json
import os
import signal
import socket
import stat
import sys

import pytest
import requests

from fixtures import signing
from fixtures.envelope import (
    EnvelopeParseError,
    Item,
    build_envelope,
    decode_form_data,
    encode_form_data,
    event_envelope,
    event_item,
    make_item,
    marker_item,
    parse_envelope,
)
from fixtures.projects import DEFAULT_DSN_KEY, project_config
from fixtures.relay import RelayExited, RelayFactory, deep_merge, run_cli, sentry_auth_header
from fixtures.upstream import FOREVER, parse_sentry_auth
from fixtures.util import compress, decompress, multipart_body, Part, wait_until

UTC = datetime.timezone.utc


# --- signatures ----------------------------------------------------------------------------


def test_signature_round_trip():
    credentials = signing.generate_credentials()
    assert len(credentials["public_key"]) == 43
    assert len(credentials["secret_key"]) == 43
    header_value = signing.sign(credentials["secret_key"], b"some data")
    signature_part, header_part = header_value.split(".")
    assert "=" not in header_value
    assert len(signing.b64url_decode(signature_part)) == 64
    assert "t" in json.loads(signing.b64url_decode(header_part))
    assert signing.verify(credentials["public_key"], header_value, b"some data")["t"]


def test_signed_message_is_header_nul_data():
    """The signature covers the exact header bytes, a NUL byte and the data."""
    credentials = signing.generate_credentials()
    header_bytes = b'{"t":"2025-03-14T09:26:53.589793412Z"}'
    private_key = signing.load_secret_key(credentials["secret_key"])
    signature = private_key.sign(header_bytes + b"\x00" + b"payload")
    value = signing.b64url_encode(signature) + "." + signing.b64url_encode(header_bytes)
    now = datetime.datetime(2025, 3, 14, 9, 27, 0, tzinfo=UTC)
    assert signing.verify(credentials["public_key"], value, b"payload", now=now)["t"].endswith("412Z")
    with pytest.raises(signing.SignatureError, match="invalid signature on data"):
        signing.verify(credentials["public_key"], value, b"payloaX", now=now)


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda v: v.replace(".", ""), "separator"),
        (lambda v: "AAAA." + v.split(".")[1], "64"),
        (lambda v: v.split(".")[0] + "." + signing.b64url_encode(b"not json"), "not JSON"),
        (lambda v: v.split(".")[0] + "." + signing.b64url_encode(b'{"x":1}'), "`t`"),
        (lambda v: v + "!", "base64url"),
    ],
)
def test_malformed_signatures_are_rejected(mutate, reason):
    credentials = signing.generate_credentials()
    value = signing.sign(credentials["secret_key"], b"")
    with pytest.raises(signing.SignatureError, match=reason):
        signing.verify(credentials["public_key"], mutate(value), b"")


def test_signature_freshness_and_algorithm():
    credentials = signing.generate_credentials()
    now = datetime.datetime.now(UTC)
    old = signing.sign(credentials["secret_key"], b"", timestamp=now - datetime.timedelta(seconds=301))
    with pytest.raises(signing.SignatureError, match="too far in the past"):
        signing.verify(credentials["public_key"], old, b"")
    future = signing.sign(credentials["secret_key"], b"", timestamp=now + datetime.timedelta(seconds=30))
    with pytest.raises(signing.SignatureError, match="too far in the future"):
        signing.verify(credentials["public_key"], future, b"")
    slightly_future = signing.sign(credentials["secret_key"], b"", timestamp=now + datetime.timedelta(seconds=5))
    signing.verify(credentials["public_key"], slightly_future, b"")
    unknown_algorithm = signing.sign(
        credentials["secret_key"], b"", header={"t": signing.format_timestamp(now), "a": "v9"}
    )
    with pytest.raises(signing.SignatureError, match="algorithm"):
        signing.verify(credentials["public_key"], unknown_algorithm, b"")
    other = signing.generate_credentials()
    with pytest.raises(signing.SignatureError, match="invalid signature"):
        signing.verify(other["public_key"], signing.sign(credentials["secret_key"], b""), b"")


def test_rfc3339_parsing_variants():
    nanos = signing.parse_rfc3339("2025-03-14T09:26:53.589793412Z")
    assert nanos == datetime.datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
    offset = signing.parse_rfc3339("2025-03-14T10:26:53+01:00")
    assert offset == datetime.datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
    with pytest.raises(ValueError):
        signing.parse_rfc3339("yesterday")


def test_keypair_secret_form_is_accepted():
    credentials = signing.generate_credentials()
    seed = signing.b64url_decode(credentials["secret_key"])
    keypair = signing.b64url_encode(seed + signing.b64url_decode(credentials["public_key"]))
    assert len(keypair) == 86
    assert signing.public_key_from_secret(keypair) == credentials["public_key"]


# --- fake upstream: registration, signed queries ---------------------------------------------


def _signed_post(upstream, path, body: dict, credentials, signature=None, relay_id=None):
    data = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Sentry-Relay-Id": relay_id or credentials["id"],
        "X-Sentry-Relay-Signature": signature or signing.sign(credentials["secret_key"], data),
    }
    return requests.post(upstream.url(path), data=data, headers=headers, timeout=5)


def _register(upstream, credentials):
    challenge = _signed_post(
        upstream,
        "/api/0/relays/register/challenge/",
        {"relay_id": credentials["id"], "public_key": credentials["public_key"], "version": "26.9.0"},
        credentials,
    )
    assert challenge.status_code == 200, challenge.text
    assert challenge.json()["relay_id"] == credentials["id"]
    token = challenge.json()["token"]
    response = _signed_post(
        upstream,
        "/api/0/relays/register/response/",
        {"relay_id": credentials["id"], "token": token, "version": "26.9.0"},
        credentials,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"relay_id": credentials["id"]}


def test_upstream_registration_accepts_valid_signatures(upstream):
    credentials = signing.generate_credentials()
    _register(upstream, credentials)
    assert upstream.registered_relays[credentials["id"]]["public_key"] == credentials["public_key"]
    assert upstream.registrations == [credentials["id"]]
    assert upstream.errors == []


def test_upstream_registration_rejects_bad_signature(upstream):
    credentials = signing.generate_credentials()
    impostor = signing.generate_credentials()
    body = {"relay_id": credentials["id"], "public_key": credentials["public_key"], "version": "26.9.0"}
    bad_signature = signing.sign(impostor["secret_key"], json.dumps(body).encode())
    response = _signed_post(upstream, "/api/0/relays/register/challenge/", body, credentials, signature=bad_signature)
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid relay signature"
    assert credentials["id"] not in upstream.registered_relays
    assert any("bad signature" in error for error in upstream.errors)
    upstream.errors.clear()


def test_upstream_register_response_verifies_with_stored_key(upstream):
    credentials = signing.generate_credentials()
    impostor = signing.generate_credentials()
    challenge = _signed_post(
        upstream,
        "/api/0/relays/register/challenge/",
        {"relay_id": credentials["id"], "public_key": credentials["public_key"], "version": "26.9.0"},
        credentials,
    )
    body = {"relay_id": credentials["id"], "token": challenge.json()["token"], "version": "26.9.0"}
    response = _signed_post(
        upstream,
        "/api/0/relays/register/response/",
        body,
        credentials,
        signature=signing.sign(impostor["secret_key"], json.dumps(body).encode()),
    )
    assert response.status_code == 401
    assert credentials["id"] not in upstream.registered_relays
    upstream.errors.clear()


def test_upstream_project_configs(upstream):
    credentials = signing.generate_credentials()
    _register(upstream, credentials)
    other_key = "a" * 32
    pending_key = "b" * 32
    upstream.project_configs[other_key] = None
    upstream.set_pending(pending_key, times=1)
    upstream.global_config = {"measurements": {"maxCustomMeasurements": 10}}
    body = {"publicKeys": [DEFAULT_DSN_KEY, other_key, pending_key, "c" * 32], "global": True}
    response = _signed_post(upstream, "/api/0/relays/projectconfigs/?version=3", body, credentials)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["configs"][DEFAULT_DSN_KEY]["projectId"] == 42
    assert answer["configs"][DEFAULT_DSN_KEY]["publicKeys"][0]["publicKey"] == DEFAULT_DSN_KEY
    assert answer["configs"][other_key] is None
    assert "c" * 32 not in answer["configs"]
    assert answer["pending"] == [pending_key]
    assert answer["global"] == {"measurements": {"maxCustomMeasurements": 10}}
    assert answer["globalStatus"] == "ready"
    again = _signed_post(upstream, "/api/0/relays/projectconfigs/?version=3", {"publicKeys": [pending_key]}, credentials)
    assert "pending" not in again.json() and "global" not in again.json()
    assert len(upstream.config_fetches(pending_key)) == 2
    assert len(upstream.global_config_fetches()) == 1
    assert upstream.errors == []


def test_upstream_project_configs_require_known_relay_and_signature(upstream):
    credentials = signing.generate_credentials()
    unknown = _signed_post(upstream, "/api/0/relays/projectconfigs/?version=3", {"publicKeys": []}, credentials)
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "unknown relay id"
    _register(upstream, credentials)
    tampered = _signed_post(
        upstream,
        "/api/0/relays/projectconfigs/?version=3",
        {"publicKeys": []},
        credentials,
        signature=signing.sign(credentials["secret_key"], b"other body"),
    )
    assert tampered.status_code == 401
    assert len(upstream.errors) == 2
    upstream.errors.clear()


def test_upstream_public_keys(upstream):
    credentials = signing.generate_credentials()
    other = signing.generate_credentials()
    _register(upstream, credentials)
    upstream.add_static_relay(other["id"], other["public_key"])
    missing = "00000000-0000-4000-8000-000000000000"
    response = _signed_post(
        upstream, "/api/0/relays/publickeys/", {"relay_ids": [other["id"], missing]}, credentials
    )
    assert response.status_code == 200
    assert response.json() == {
        "relays": {other["id"]: {"publicKey": other["public_key"], "internal": True}, missing: None}
    }


def test_upstream_live(upstream):
    response = requests.get(upstream.url("/api/0/relays/live/"), timeout=5)
    assert response.status_code == 200
    assert response.json() == {"is_healthy": True}


# --- fake upstream: envelopes ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "br", "zstd"])
def test_upstream_decodes_and_records_envelopes(upstream, encoding):
    credentials = signing.generate_credentials()
    upstream.add_static_relay(credentials["id"], credentials["public_key"])
    envelope = build_envelope(event_item({"message": "hi"}), make_item("attachment", b"\x00\x01\n\xff"))
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "X-Sentry-Auth": sentry_auth_header(DEFAULT_DSN_KEY, "test/1.0"),
        "X-Sentry-Relay-Id": credentials["id"],
        "X-Sentry-Relay-Signature": signing.sign(credentials["secret_key"], b""),
    }
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    response = requests.post(
        upstream.url("/api/42/envelope/"), data=compress(envelope.serialize(), encoding), headers=headers, timeout=5
    )
    assert response.json() == {"id": envelope.event_id}
    [received] = upstream.wait_for_envelopes(1)
    assert received.project_id == 42
    assert received.signature_error is None
    assert received.auth == {"sentry_version": "7", "sentry_client": "test/1.0", "sentry_key": DEFAULT_DSN_KEY}
    assert received.envelope.serialize() == envelope.serialize()
    assert received.items[1].payload == b"\x00\x01\n\xff"


def test_upstream_flags_bad_envelope_signature(upstream):
    credentials = signing.generate_credentials()
    upstream.add_static_relay(credentials["id"], credentials["public_key"])
    headers = {
        "X-Sentry-Auth": sentry_auth_header(),
        "X-Sentry-Relay-Id": credentials["id"],
        "X-Sentry-Relay-Signature": signing.sign(credentials["secret_key"], b"not empty"),
    }
    requests.post(upstream.url("/api/42/envelope/"), data=build_envelope(event_item()).serialize(), headers=headers, timeout=5)
    [received] = upstream.wait_for_envelopes(1)
    assert received.signature_error == "invalid signature on data"
    assert len(upstream.errors) == 1
    upstream.errors.clear()


def test_upstream_markers_are_kept_apart(upstream):
    body = build_envelope(marker_item("m1")).serialize()
    requests.post(upstream.url("/api/42/envelope/"), data=body, headers={"X-Sentry-Auth": sentry_auth_header()}, timeout=5)
    upstream.wait_for_marker("m1")
    assert upstream.envelopes == []


def test_upstream_fail_with_count_and_forever(upstream):
    upstream.fail_with(429, headers={"Retry-After": "60", "X-Sentry-Rate-Limits": "60:error:key"}, count=2)
    body = build_envelope(event_item()).serialize()
    headers = {"X-Sentry-Auth": sentry_auth_header()}
    statuses = [requests.post(upstream.url("/api/42/envelope/"), data=body, headers=headers, timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["X-Sentry-Rate-Limits"] == "60:error:key"
    assert len(upstream.envelopes) == 1
    upstream.fail_with(503, match="all", count=FOREVER)
    for _ in range(3):
        assert requests.get(upstream.url("/api/0/relays/live/"), timeout=5).status_code == 503
    upstream.clear_failures()
    assert requests.get(upstream.url("/api/0/relays/live/"), timeout=5).status_code == 200


def test_upstream_go_down_and_come_back(upstream):
    session = requests.Session()  # keeps a pooled connection that go_down must cut
    assert session.get(upstream.url("/api/0/relays/live/"), timeout=5).status_code == 200
    port = upstream.port
    upstream.go_down()
    with pytest.raises(requests.ConnectionError):
        session.get(upstream.url("/api/0/relays/live/"), timeout=5)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    upstream.come_back()
    assert upstream.port == port
    assert session.get(upstream.url("/api/0/relays/live/"), timeout=5).status_code == 200


def test_upstream_catch_all_and_routes(upstream):
    upstream.add_route("GET", r"^/api/0/custom/$", lambda request: (418, [("X-Test", "1")], b"teapot"))
    custom = requests.get(upstream.url("/api/0/custom/?a=b"), timeout=5)
    assert (custom.status_code, custom.headers["X-Test"], custom.content) == (418, "1", b"teapot")
    other = requests.post(upstream.url("/api/0/other/?x=1"), data=b"body", timeout=5)
    assert other.json() == {"fake_upstream": True, "method": "POST", "path": "/api/0/other/", "query": "x=1"}
    [recorded] = upstream.requests_to(r"^/api/0/other/$")
    assert recorded.body == b"body"


def test_upstream_reads_chunked_bodies(upstream):
    def chunks():
        yield b"hello "
        yield b"world"

    requests.post(upstream.url("/api/0/chunked/"), data=chunks(), timeout=5)
    [recorded] = upstream.requests_to(r"^/api/0/chunked/$")
    assert recorded.chunked and recorded.body == b"hello world"


# --- envelope helper ---------------------------------------------------------------------------


def test_envelope_round_trip():
    envelope = build_envelope(
        event_item({"message": "disk is full"}),
        make_item("attachment", b"hello", content_type="text/plain", filename="out.txt"),
        make_item("unknown_kind", b"no length here", with_length=False),
        dsn="https://0123456789abcdef0123456789abcdef:@o1.ingest.example/7",
        sent_at="2025-01-01T12:00:00.000000Z",
    )
    data = envelope.serialize()
    parsed = parse_envelope(data)
    assert parsed.headers == envelope.headers
    assert [item.headers for item in parsed.items] == [item.headers for item in envelope.items]
    assert [item.payload for item in parsed.items] == [b'{"message":"disk is full"}', b"hello", b"no length here"]
    assert parsed.serialize() == data
    assert parsed.get_item("attachment").headers["filename"] == "out.txt"


def test_envelope_spec_example():
    data = (
        b'{"event_id":"4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a","dsn":"https://0123456789abcdef0123456789abcdef:@o1.ingest.example/7","sent_at":"2025-01-01T12:00:00.000000Z"}\n'
        b'{"type":"event","length":26,"content_type":"application/json"}\n'
        b'{"message":"disk is full"}\n'
        b'{"type":"attachment","length":5,"content_type":"text/plain","filename":"out.txt"}\n'
        b"hello\n"
    )
    parsed = parse_envelope(data)
    assert parsed.event_id == "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a"
    assert parsed.item_types() == ["event", "attachment"]
    assert parsed.serialize() == data


def test_envelope_raw_headers_are_preserved():
    data = b'{"b":1, "a":2}\n{"type":"x", "zz":1,"length":2}\nab\n'
    parsed = parse_envelope(data)
    assert parsed.raw_header == b'{"b":1, "a":2}'
    assert parsed.items[0].raw_header == b'{"type":"x", "zz":1,"length":2}'
    assert parsed.serialize() == data


@pytest.mark.parametrize(
    "tail, payloads",
    [
        (b'{"type":"attachment","length":0}\n\n', [b""]),
        (b'{"type":"attachment"}', [b""]),
        (b'{"type":"attachment"}\nhelloworld', [b"helloworld"]),
        (b"", []),
        (b'{"type":"a","length":3}\na\nb\n{"type":"b"}\nxy\n', [b"a\nb", b"xy"]),
        (b'{"type":"a","length":2}\n\r\n', [b"\r\n"]),
    ],
)
def test_envelope_framing_cases(tail, payloads):
    parsed = parse_envelope(b"{}\n" + tail)
    assert [item.payload for item in parsed.items] == payloads


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "missing envelope header"),
        (b"   \n", "missing envelope header"),
        (b"{not json\n", "invalid envelope header"),
        (b"[1]\n", "invalid envelope header"),
        (b"{} x\n", "missing newline after header or payload"),
        (b'{}\n{"type":"x","length":5}\nabc', "unexpected end of file"),
        (b'{}\n{"type":"x","length":1}\nabc\n', "missing newline after header or payload"),
        (b'{}\n{"type":"x"}\nabc\n\n', "unexpected end of file"),
        (b'{}\n{"length":1}\na\n', "invalid item header"),
        (b'{}\n{"type":"x","length":-1}\n\n', "invalid item header"),
        (b'{}\n{"type":"x","length":null}\n\n', "invalid item header"),
        (b'{}\n{"type":5}\n\n', "invalid item header"),
        (b"{}\n" + b'{"type":"x"}\n\n' * 501, "too many individual items"),
    ],
)
def test_envelope_parse_errors(data, reason):
    with pytest.raises(EnvelopeParseError) as info:
        parse_envelope(data)
    assert str(info.value) == reason


def test_envelope_with_500_items_is_fine():
    assert len(parse_envelope(b"{}\n" + b'{"type":"x"}\n\n' * 500).items) == 500


def test_form_data_round_trip():
    pairs = [("sentry[event_id]", "abc"), ("key", "välue"), ("empty", "")]
    encoded = encode_form_data(pairs)
    assert encoded[:4] == b"\x10\x00\x00\x00"
    assert decode_form_data(encoded) == pairs


def test_item_helpers():
    item = make_item("event", {"a": 1}, content_type="application/json")
    assert list(item.headers) == ["type", "length", "content_type"]
    assert item.json() == {"a": 1}
    assert isinstance(Item({"type": "x"}, b"y").serialize(), bytes)
    assert build_envelope(make_item("session", b"{}")).event_id is None
    assert len(build_envelope(event_item()).event_id) == 32


# --- misc helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "identity"])
def test_compression_round_trip(encoding):
    data = b"x" * 1000 + b"y"
    assert decompress(compress(data, encoding), encoding) == data


def test_multipart_body_parses():
    body, content_type = multipart_body(
        [Part("upload_file_minidump", b"MDMP\x00", filename="dump.dmp"), Part("sentry[release]", "1.0")]
    )
    message = email.parser.BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = message.get_payload()
    assert [part.get_param("name", header="content-disposition") for part in parts] == ["upload_file_minidump", "sentry[release]"]
    assert parts[0].get_filename() == "dump.dmp"
    assert parts[0].get_payload(decode=True) == b"MDMP\x00"


def test_sentry_auth_helpers():
    header = sentry_auth_header("k" * 32, "sdk/1.0")
    assert parse_sentry_auth(header) == {"sentry_version": "7", "sentry_client": "sdk/1.0", "sentry_key": "k" * 32}
    assert parse_sentry_auth("Basic abc") == {}


def test_deep_merge_and_project_config():
    merged = deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3}, "d": None, "e": 4})
    assert merged == {"a": {"b": 3, "c": 2}, "e": 4}
    state = project_config(config={"allowedDomains": ["x.com"]})
    assert state["projectId"] == 42 and state["config"]["allowedDomains"] == ["x.com"]
    assert state["config"]["trustedRelaySettings"] == {"verifySignature": "disabled"}


def test_wait_until_reports_timeouts():
    assert wait_until(lambda: 5) == 5
    with pytest.raises(AssertionError, match="never"):
        wait_until(lambda: False, timeout=0.05, message="never")


# --- the Relay process fixture, driven against a stub binary ---------------------------------------


@pytest.fixture
def stub_relay_factory(tmp_path, tmp_path_factory, monkeypatch):
    stub = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "stub_relay.py")
    launcher = tmp_path / "relay"
    launcher.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, stub))
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RELAY_BIN", str(launcher))
    factory = RelayFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


def test_relay_fixture_lifecycle(stub_relay_factory, upstream):
    instance = stub_relay_factory(upstream, mode="proxy", credentials=True)
    assert instance.is_running()
    assert len(instance.relay_id) == 36 and len(instance.public_key) == 43
    assert upstream.static_relays[instance.relay_id] == instance.public_key
    config = json.loads(open(instance.config_dir + "/config.yml").read())
    assert config["relay"]["upstream"] == upstream.url("/")
    assert config["relay"]["mode"] == "proxy"
    envelope = event_envelope()
    response = instance.send_envelope(42, envelope)
    assert response.json() == {"id": envelope.event_id}
    upstream.wait_for_envelopes(1)
    instance.barrier(upstream)
    assert "stub relay listening" in instance.stderr_text()
    assert instance.shutdown(signal.SIGTERM) == 0
    assert "relay shutdown complete" in instance.stderr_text()


def test_relay_fixture_chains_and_cli(stub_relay_factory, upstream):
    inner = stub_relay_factory(upstream, mode="proxy", credentials=False)
    outer = stub_relay_factory(inner, mode="proxy", credentials=False, config={"limits": {"shutdown_timeout": 7}})
    assert outer.config["relay"]["upstream"] == inner.url("/")
    assert outer.config["limits"]["shutdown_timeout"] == 7
    assert outer.credentials is None
    outer.barrier(upstream)
    assert run_cli(["--version"]).stdout == "relay 26.9.0\n"


def test_relay_fixture_reports_early_exit(stub_relay_factory, upstream):
    with pytest.raises(RelayExited, match="exited"):
        stub_relay_factory(upstream, mode="proxy", config={"relay": {"host": "not-an-ip"}})
