"""Native crash uploads (http-api.md §4.5) in proxy mode."""

import bz2
import gzip
import json
import lzma

import msgpack
import pytest
import zstandard

from fixtures.asserts import assert_cors, assert_hyphenated_event_id, assert_json_error, assert_status
from fixtures.envelope import decode_form_data, new_event_id
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit
from fixtures.util import Part, hyphenated, multipart_body

MINIDUMP = b"MDMP" + b"\x93\xa7\x00\x00" + bytes(range(256)) * 4
PATH = "/api/42/minidump/?sentry_key=%s" % DEFAULT_DSN_KEY


def _post_multipart(relay, parts, path=PATH):
    body, content_type = multipart_body(parts)
    return relay.post(path, data=body, headers={"Content-Type": content_type})


def _attachments_by_type(envelope):
    return {item.headers.get("attachment_type", "event.attachment"): item for item in envelope.items_of_type("attachment")}


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/x-dmp"])
def test_raw_minidump(proxy_relay, upstream, content_type):
    response = proxy_relay.post(PATH, data=MINIDUMP, headers={"Content-Type": content_type})
    assert_status(response, 200)
    assert_cors(response)
    assert response.headers["Content-Type"].startswith("text/plain")
    event_id = assert_hyphenated_event_id(response.text)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == event_id
    item = received.envelope.get_item("attachment")
    assert item.headers["attachment_type"] == "event.minidump"
    assert item.headers["filename"] == "Minidump"
    assert item.payload == MINIDUMP


def test_route_without_trailing_slash(proxy_relay, upstream):
    path = "/api/42/minidump?sentry_key=%s" % DEFAULT_DSN_KEY
    response = proxy_relay.post(path, data=MINIDUMP, headers={"Content-Type": "application/octet-stream"})
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


def test_multipart_minidump_with_attachments_and_form_fields(proxy_relay, upstream):
    response = _post_multipart(
        proxy_relay,
        [
            Part("upload_file_minidump", MINIDUMP, filename="crash.dmp"),
            Part("log", b"some log text", filename="app.log", content_type="text/plain"),
            Part("view-hierarchy.json", b'{"windows":[]}', filename="view-hierarchy.json"),
            Part("gpu", b"gpu dump", filename="crash.nv-gpudmp"),
            Part("shader", b"shader", filename="debug.nvdbg"),
            Part("sentry[release]", "my-app@1.0"),
            Part("sentry[tags][key]", "value"),
        ],
    )
    assert_status(response, 200)
    event_id = assert_hyphenated_event_id(response.text)
    [received] = upstream.wait_for_envelopes(1)
    envelope = received.envelope
    assert envelope.event_id == event_id
    attachments = _attachments_by_type(envelope)
    assert attachments["event.minidump"].payload == MINIDUMP
    assert attachments["event.minidump"].headers["filename"] == "crash.dmp"
    assert attachments["event.attachment"].payload == b"some log text"
    assert attachments["event.attachment"].headers["filename"] == "app.log"
    assert attachments["event.view_hierarchy"].payload == b'{"windows":[]}'
    assert attachments["event.nv_gpudmp"].payload == b"gpu dump"
    assert attachments["event.nv_shader_debug"].payload == b"shader"
    form = dict(decode_form_data(envelope.get_item("form_data").payload))
    assert form == {"sentry[release]": "my-app@1.0", "sentry[tags][key]": "value"}


def test_event_payload_and_breadcrumbs_parts(proxy_relay, upstream):
    event_id = new_event_id()
    event_payload = msgpack.packb({"event_id": event_id, "message": "from msgpack"})
    breadcrumbs = msgpack.packb({"timestamp": 1700000000, "message": "crumb"})
    response = _post_multipart(
        proxy_relay,
        [
            Part("upload_file_minidump", MINIDUMP, filename="crash.dmp"),
            Part("__sentry-event", event_payload, filename="event.msgpack"),
            Part("__sentry-breadcrumb1", breadcrumbs, filename="breadcrumbs1"),
        ],
    )
    assert_status(response, 200)
    assert response.text.strip() == hyphenated(event_id)
    [received] = upstream.wait_for_envelopes(1)
    attachments = _attachments_by_type(received.envelope)
    assert attachments["event.payload"].payload == event_payload
    assert attachments["event.breadcrumbs"].payload == breadcrumbs


def test_event_id_from_form_field(proxy_relay, upstream):
    event_id = new_event_id()
    response = _post_multipart(
        proxy_relay,
        [Part("upload_file_minidump", MINIDUMP, filename="crash.dmp"), Part("sentry[event_id]", event_id)],
    )
    assert_status(response, 200)
    assert response.text.strip() == hyphenated(event_id)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == event_id


def test_event_id_from_sentry_json_field(proxy_relay, upstream):
    event_id = new_event_id()
    response = _post_multipart(
        proxy_relay,
        [Part("upload_file_minidump", MINIDUMP, filename="crash.dmp"), Part("sentry", json.dumps({"event_id": event_id}))],
    )
    assert_status(response, 200)
    assert response.text.strip() == hyphenated(event_id)
    upstream.wait_for_envelopes(1)


@pytest.mark.parametrize(
    "compress, extension",
    [
        (gzip.compress, ".gz"),
        (lzma.compress, ".xz"),
        (bz2.compress, ".bz2"),
        (lambda data: zstandard.ZstdCompressor().compress(data), ".zst"),
    ],
    ids=["gzip", "xz", "bzip2", "zstd"],
)
def test_compressed_minidump(proxy_relay, upstream, compress, extension):
    response = _post_multipart(
        proxy_relay, [Part("upload_file_minidump", compress(MINIDUMP), filename="crash.dmp" + extension)]
    )
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    minidump = _attachments_by_type(received.envelope)["event.minidump"]
    assert minidump.payload == MINIDUMP
    assert minidump.headers["filename"] == "crash.dmp"


def test_corrupt_compressed_minidump(proxy_relay):
    corrupt = lzma.compress(MINIDUMP)[:-8] + b"garbage!"
    response = _post_multipart(proxy_relay, [Part("upload_file_minidump", corrupt, filename="crash.dmp.xz")])
    assert_json_error(response, 400, "invalid compression format")


def test_invalid_minidump(proxy_relay):
    response = _post_multipart(proxy_relay, [Part("upload_file_minidump", b"NOT A MINIDUMP", filename="crash.dmp")])
    assert_json_error(response, 400, "invalid minidump")


def test_invalid_raw_minidump(proxy_relay):
    response = proxy_relay.post(PATH, data=b"NOT A MINIDUMP", headers={"Content-Type": "application/octet-stream"})
    assert_json_error(response, 400, "invalid minidump")


def test_missing_minidump(proxy_relay):
    response = _post_multipart(proxy_relay, [Part("other", b"data", filename="other.txt")])
    assert_json_error(response, 400, "missing minidump")


def test_bad_multipart(proxy_relay):
    response = proxy_relay.post(PATH, data=b"garbage", headers={"Content-Type": "multipart/form-data"})
    assert_json_error(response, 400, "invalid multipart data")


def test_oversized_minidump(relay, upstream):
    limited = relay(upstream, mode="proxy", config={"limits": {"max_attachment_size": 100}})
    response = _post_multipart(limited, [Part("upload_file_minidump", MINIDUMP, filename="crash.dmp")])
    assert_status(response, 413)


def test_never_answers_429(proxy_relay, upstream):
    learn_rate_limit(proxy_relay, upstream, "60:error:key:crashes")
    response = proxy_relay.post(PATH, data=MINIDUMP, headers={"Content-Type": "application/octet-stream"})
    assert_status(response, 200)
    assert_hyphenated_event_id(response.text)
