"""Attachment uploads for an event (http-api.md §4.6) in proxy mode."""

from fixtures.asserts import assert_cors, assert_empty, assert_status
from fixtures.envelope import attachment_item, build_envelope, decode_form_data, new_event_id
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit
from fixtures.util import Part, multipart_body


def _path(event_id):
    return "/api/42/events/%s/attachments/?sentry_key=%s" % (event_id, DEFAULT_DSN_KEY)


def _post(relay, event_id, parts):
    body, content_type = multipart_body(parts)
    return relay.post(_path(event_id), data=body, headers={"Content-Type": content_type})


def test_attachments_are_forwarded(proxy_relay, upstream):
    event_id = new_event_id()
    response = _post(
        proxy_relay,
        event_id,
        [
            Part("first", b"first file\ncontent", filename="one.txt", content_type="text/plain"),
            Part("second", b"\x00\x01\x02binary", filename="two.bin"),
            Part("note", "a form value"),
        ],
    )
    assert_empty(response, 201)
    assert_cors(response)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == event_id
    attachments = {item.headers["filename"]: item for item in received.envelope.items_of_type("attachment")}
    assert attachments["one.txt"].payload == b"first file\ncontent"
    assert attachments["two.bin"].payload == b"\x00\x01\x02binary"
    for item in attachments.values():
        assert item.headers.get("attachment_type", "event.attachment") == "event.attachment"
    assert decode_form_data(received.envelope.get_item("form_data").payload) == [("note", "a form value")]


def test_rate_limited_attachments_answer_429(proxy_relay, upstream):
    learn_rate_limit(
        proxy_relay,
        upstream,
        "60:attachment:key:no_attachments",
        check=_attachment_envelope,
    )
    event_id = new_event_id()
    response = _post(proxy_relay, event_id, [Part("f", b"limited", filename="limited.txt")])
    assert_status(response, 429)
    assert "attachment" in response.headers["X-Sentry-Rate-Limits"]
    proxy_relay.barrier(upstream)
    assert not [e for e in upstream.envelopes if e.envelope.event_id == event_id]


def _attachment_envelope():
    return build_envelope(attachment_item(b"check"), with_event_id=True)
