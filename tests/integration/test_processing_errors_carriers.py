"""Error-event carriers of a processing relay (processing.md §3.1): browser security reports
(`raw_security`, from `/api/<id>/security/`) and Unreal Engine crash archives (`unreal_report`,
from `/api/<id>/unreal/<key>/`) become events on Kafka.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
The Unreal archives are built here in the UE4 "CR1" container layout (see
relay-server/src/services/processing/unreal.rs).
"""

import json
import struct
import zlib

import pytest

from fixtures.asserts import assert_status
from fixtures.projects import DEFAULT_DSN_KEY, DEFAULT_PROJECT_ID

AUTH_QUERY = "?sentry_key=%s" % DEFAULT_DSN_KEY
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Carrier/1.0"

LEGACY_CSP = {
    "csp-report": {
        "document-uri": "https://example.com/foo/bar",
        "referrer": "https://www.google.com/",
        "violated-directive": "script-src 'self' https://cdn.example.org",
        "effective-directive": "script-src",
        "original-policy": "script-src 'self' https://cdn.example.org; report-uri /csp",
        "blocked-uri": "https://evil.com/tracker.js?session=1",
        "line-number": 7,
        "disposition": "enforce",
    }
}

REPORTING_API_CSP = {
    "type": "csp-violation",
    "age": 10,
    "url": "https://example.com/page",
    "user_agent": "Chrome/120 (reporting api)",
    "body": {
        "documentURL": "https://example.com/page",
        "blockedURL": "inline",
        "effectiveDirective": "style-src-elem",
        "originalPolicy": "style-src 'self'",
        "disposition": "report",
        "statusCode": 200,
    },
}

DEPRECATION_REPORT = {
    "type": "deprecation",
    "age": 10,
    "url": "https://example.com/page",
    "body": {"id": "PrefixedStorageInfo", "message": "deprecated"},
}


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    return relay(upstream, mode="managed", config=kafka_topics.relay_config())


def _post_security(relay, body, content_type="application/csp-report", query=""):
    return relay.post(
        "/api/%d/security/%s%s" % (DEFAULT_PROJECT_ID, AUTH_QUERY, query),
        data=json.dumps(body).encode(),
        headers={"Content-Type": content_type, "User-Agent": USER_AGENT},
    )


def _tags(event):
    return {key: value for key, value in event.get("tags") or []}


def _headers(request):
    return {name: value for name, value in request.get("headers") or []}


# --- security reports --------------------------------------------------------------------


def test_legacy_csp_report_becomes_csp_event(processing_relay, kafka_topics):
    events = kafka_topics.consumer("events")
    response = _post_security(processing_relay, LEGACY_CSP, query="&sentry_release=web@1.0&sentry_environment=prod")
    assert_status(response, 200)

    event, message = events.get_event()
    assert message["project_id"] == DEFAULT_PROJECT_ID
    assert message["attachments"] == []
    assert event["event_id"] == message["event_id"]
    assert event["type"] == "csp"
    assert event["logger"] == "csp"
    assert event["logentry"]["formatted"] == "Blocked 'script' from 'evil.com'"
    assert event["culprit"] == "script-src 'self' cdn.example.org"
    tags = _tags(event)
    assert tags["effective-directive"] == "script-src"
    assert tags["blocked-uri"] == "https://evil.com/tracker.js"
    assert event["request"]["url"] == "https://example.com/foo/bar"
    assert _headers(event["request"])["User-Agent"] == USER_AGENT
    assert event["release"] == "web@1.0"
    assert event["environment"] == "prod"
    assert event["project"] == DEFAULT_PROJECT_ID
    csp = event["csp"]
    assert csp["effective_directive"] == "script-src"
    assert csp["blocked_uri"] == "https://evil.com/tracker.js?session=1"
    assert csp["document_uri"] == "https://example.com/foo/bar"
    assert csp["violated_directive"] == "script-src 'self' https://cdn.example.org"
    assert csp["line_number"] == 7
    # The reporting browser's address is inferred from the request.
    assert event["user"]["ip_address"] == "127.0.0.1"
    events.assert_empty()


def test_reporting_api_batch(processing_relay, kafka_topics):
    """A Reporting API batch: the csp-violation becomes an event, the deprecation report is an
    unsupported kind (`filtered`/`invalid-csp`)."""
    events = kafka_topics.consumer("events")
    outcomes = kafka_topics.outcomes_consumer()
    response = _post_security(
        processing_relay, [REPORTING_API_CSP, DEPRECATION_REPORT], content_type="application/reports+json"
    )
    assert_status(response, 200)

    event, _ = events.get_event()
    assert event["type"] == "csp"
    assert event["logentry"]["formatted"] == "Blocked 'style' or 'link' element"
    assert event["csp"]["effective_directive"] == "style-src-elem"
    assert event["csp"]["blocked_uri"] == "inline"
    assert event["csp"]["status_code"] == 200
    assert event["request"]["url"] == "https://example.com/page"
    # The report's own user agent wins over the request's.
    assert _headers(event["request"])["User-Agent"] == "Chrome/120 (reporting api)"

    outcomes.wait_for_outcomes({("filtered", "invalid-csp", "security"): 1})
    events.assert_empty()


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"not": "a security report"}, "security_report_type"),
        ({"csp-report": {"blocked-uri": "https://evil.com/"}}, "security_report"),
        ({"csp-report": "not an object"}, "security_report"),
    ],
)
def test_rejected_security_reports(processing_relay, kafka_topics, body, reason):
    events = kafka_topics.consumer("events")
    outcomes = kafka_topics.outcomes_consumer()
    assert_status(_post_security(processing_relay, body, content_type="application/json"), 200)
    outcomes.wait_for_outcomes({("invalid", reason, "security"): 1})
    events.assert_empty()


@pytest.mark.parametrize(
    "report",
    [
        {"expect-ct-report": {"date-time": "2024-05-29T16:26:40Z", "hostname": "www.example.com", "port": 443}},
        {"expect-staple-report": {"hostname": "www.example.com", "port": 443, "response-status": "ERROR_RESPONSE"}},
        {"hostname": "www.example.com", "port": 443, "known-pins": ['pin-sha256="x"']},
    ],
)
def test_retired_report_kinds_are_unsupported(processing_relay, kafka_topics, report):
    """Expect-CT, Expect-Staple and HPKP reports are no longer ingested (Sentry's Relay dropped
    them; the event schema has no interface for them): unsupported kind."""
    events = kafka_topics.consumer("events")
    outcomes = kafka_topics.outcomes_consumer()
    assert_status(_post_security(processing_relay, report, content_type="application/json"), 200)
    outcomes.wait_for_outcomes({("filtered", "invalid-csp", "security"): 1})
    events.assert_empty()


# --- Unreal crash archives ---------------------------------------------------------------

MINIDUMP = b"MDMP\x93\xa7\x00\x00" + b"\x00" * 56
CONTEXT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<FGenericCrashContext>
  <RuntimeProperties>
    <CrashVersion>3</CrashVersion>
    <CrashGUID>UECC-Windows-CARRIER_0000</CrashGUID>
    <IsAssert>false</IsAssert>
    <CrashType>Crash</CrashType>
    <GameName>UE4-CarrierGame</GameName>
    <EngineVersion>4.27.2-0+++UE4+Release-4.27</EngineVersion>
    <ErrorMessage>Access violation - code c0000005</ErrorMessage>
    <UserName>player1</UserName>
    <UserDescription>The game froze when I opened the map &amp; crashed</UserDescription>
    <Misc.OSVersionMajor>Windows 10</Misc.OSVersionMajor>
    <Misc.PrimaryGPUBrand>NVIDIA GeForce RTX 3080</Misc.PrimaryGPUBrand>
  </RuntimeProperties>
  <GameData><__sentry>{"release": "carrier@2.0.0"}</__sentry></GameData>
</FGenericCrashContext>
""".encode()
GAME_LOG = (
    b"Log file open, 05/29/24 16:26:39\n"
    b"[2024.05.29-16.26.40:100][  0]LogInit: Display: Starting game\n"
    b"[2024.05.29-16.26.41:250][ 12]LogTemp: Warning: Low memory\n"
)
INI = b"[CrashReportClient]\nbAllowToBeContacted=true\n"


def _ansi(text):
    data = text.encode()
    length = max(len(data), 260)
    return struct.pack("<i", length) + data.ljust(length, b"\x00")


def unreal_archive(files, compress=True):
    """A UE4 crash archive: "CR1", directory name, file name, uncompressed size, file count,
    then per file index, name and length-prefixed data; zlib-compressed."""
    body = b"".join(
        struct.pack("<i", index) + _ansi(name) + struct.pack("<i", len(data)) + data
        for index, (name, data) in enumerate(files)
    )
    header_without_size = b"CR1" + _ansi("UECC-Windows-CARRIER_0000") + _ansi("UECC-Windows-CARRIER_0000.uecrash")
    size = len(header_without_size) + 8 + len(body)
    raw = header_without_size + struct.pack("<ii", size, len(files)) + body
    return zlib.compress(raw) if compress else raw


def _post_unreal(relay, body, query=""):
    return relay.post(
        "/api/%d/unreal/%s/%s" % (DEFAULT_PROJECT_ID, DEFAULT_DSN_KEY, query),
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )


def _read_unreal_messages(consumer):
    """Chunks, user reports and the event of one crash (ingest-attachments order)."""
    chunks = {}
    user_reports = []
    while True:
        message = consumer.get_message()
        value = message.msgpack()
        if value["type"] == "attachment_chunk":
            chunks.setdefault(value["id"], []).append((value["chunk_index"], value["payload"]))
        elif value["type"] == "user_report":
            user_reports.append((json.loads(value["payload"]), value))
        elif value["type"] == "event":
            return chunks, user_reports, json.loads(value["payload"]), value
        else:
            raise AssertionError("unexpected message %s" % message.describe())


def test_unreal_crash_archive(processing_relay, kafka_topics):
    attachments_topic = kafka_topics.consumer("attachments")
    events = kafka_topics.consumer("events")
    archive = unreal_archive(
        [
            ("UEMinidump.dmp", MINIDUMP),
            ("CrashContext.runtime-xml", CONTEXT_XML),
            ("CarrierGame.log", GAME_LOG),
            ("CrashReportClient.ini", INI),
        ]
    )
    response = _post_unreal(processing_relay, archive, query="?UserID=login-123")
    assert_status(response, 200)
    event_id = response.text.strip().replace("-", "")

    chunks, user_reports, event, message = _read_unreal_messages(attachments_topic)
    assert message["event_id"] == event_id
    assert message["project_id"] == DEFAULT_PROJECT_ID

    # Every archive file is an attachment, chunked before the event.
    by_name = {descriptor["name"]: descriptor for descriptor in message["attachments"]}
    assert sorted(by_name) == ["CarrierGame.log", "CrashContext.runtime-xml", "CrashReportClient.ini", "UEMinidump.dmp"]
    assert by_name["UEMinidump.dmp"]["attachment_type"] == "event.minidump"
    assert by_name["CrashContext.runtime-xml"]["attachment_type"] == "unreal.context"
    assert by_name["CarrierGame.log"]["attachment_type"] == "unreal.logs"
    assert by_name["CrashReportClient.ini"]["attachment_type"] == "event.attachment"
    expected = {
        "UEMinidump.dmp": MINIDUMP,
        "CrashContext.runtime-xml": CONTEXT_XML,
        "CarrierGame.log": GAME_LOG,
        "CrashReportClient.ini": INI,
    }
    for name, content in expected.items():
        descriptor = by_name[name]
        assert descriptor["size"] == len(content)
        parts = sorted(chunks[descriptor["id"]])
        assert b"".join(payload for _, payload in parts) == content

    # The user's description is a user report of the same event.
    [(report, report_message)] = user_reports
    assert report == {
        "event_id": event_id,
        "name": "player1",
        "email": "",
        "comments": "The game froze when I opened the map & crashed",
    }
    assert report_message["project_id"] == DEFAULT_PROJECT_ID

    # The event: crash placeholder, context data, game data, user id, log breadcrumbs.
    assert event["event_id"] == event_id
    assert event["platform"] == "native"
    assert event["level"] == "fatal"
    [exception] = event["exception"]["values"]
    assert exception["mechanism"]["type"] == "minidump"
    assert event["release"] == "carrier@2.0.0"
    assert event["user"]["id"] == "login-123"
    unreal = event["contexts"]["unreal"]
    assert unreal["crash_type"] == "Crash"
    assert unreal["game_name"] == "UE4-CarrierGame"
    assert unreal["crash_guid"] == "UECC-Windows-CARRIER_0000"
    assert unreal["is_assert"] is False
    assert event["contexts"]["os"]["name"] == "Windows 10"
    assert event["contexts"]["gpu"]["name"] == "NVIDIA GeForce RTX 3080"
    breadcrumbs = event["breadcrumbs"]["values"]
    assert [crumb["message"] for crumb in breadcrumbs] == ["Starting game", "Low memory"]
    assert breadcrumbs[1]["category"] == "LogTemp"
    assert breadcrumbs[1]["level"] == "warning"
    assert event["_metrics"]["bytes.ingested.event.minidump"] == len(MINIDUMP)

    events.assert_empty()


def test_unreal_archive_without_compression_or_context(processing_relay, kafka_topics):
    attachments_topic = kafka_topics.consumer("attachments")
    archive = unreal_archive([("UEMinidump.dmp", MINIDUMP)], compress=False)
    assert_status(_post_unreal(processing_relay, archive), 200)
    chunks, user_reports, event, message = _read_unreal_messages(attachments_topic)
    assert [descriptor["attachment_type"] for descriptor in message["attachments"]] == ["event.minidump"]
    assert user_reports == []
    assert event["exception"]["values"][0]["mechanism"]["type"] == "minidump"
    assert "unreal" not in (event.get("contexts") or {})


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"this is not a zlib stream", "invalid_compression"),
        (zlib.compress(b"not a crash archive at all"), "invalid_unreal_report"),
        (unreal_archive([("CrashContext.runtime-xml", b"<FGenericCrashContext><Broken></Other>")]), "process_unreal"),
    ],
)
def test_broken_unreal_archives(processing_relay, kafka_topics, body, reason):
    attachments_topic = kafka_topics.consumer("attachments", "events")
    outcomes = kafka_topics.outcomes_consumer()
    assert_status(_post_unreal(processing_relay, body), 200)
    outcomes.wait_for_outcomes({("invalid", reason, "error"): 1})
    attachments_topic.assert_empty()
