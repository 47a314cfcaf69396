"""The main listener speaks HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge)
(http-api.md §1). Python's HTTP clients speak only HTTP/1.1 here, so curl drives HTTP/2."""

import subprocess

from fixtures.envelope import event_envelope
from fixtures.relay import sentry_auth_header


def _curl(*args, data=None):
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--http2-prior-knowledge", "--write-out", "\n%{http_version} %{http_code}", *args],
        input=data,
        capture_output=True,
        timeout=30,
        check=True,
    )
    body, _, status_line = result.stdout.rpartition(b"\n")
    version, code = status_line.decode().split()
    return version, int(code), body


def test_health_check_over_h2c(proxy_relay):
    version, code, body = _curl(proxy_relay.url("/api/relay/healthcheck/live/"))
    assert (version, code) == ("2", 200)
    assert body == b'{"is_healthy":true}'


def test_envelope_over_h2c(proxy_relay, upstream):
    envelope = event_envelope("sent over h2c")
    version, code, _ = _curl(
        "-X", "POST",
        "-H", "X-Sentry-Auth: " + sentry_auth_header(),
        "--data-binary", "@-",
        proxy_relay.url("/api/42/envelope/"),
        data=envelope.serialize(),
    )
    assert (version, code) == ("2", 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == envelope.event_id
