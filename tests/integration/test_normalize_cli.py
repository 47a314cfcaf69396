"""`relay normalize`: one event through the normalization steps implemented so far
(normalization.md §4 timestamps, §5 transaction rejection, §6.2 schema checks, §8 trimming,
§9 removal of unknown attributes, §10 `_meta` and the errors list, §12 renormalize mode).

Only the fields these steps guarantee are asserted: steps still being added (defaults,
timestamps, legacy conversions, …) may add fields or fill a nulled value with its default.
"""

import json

from fixtures.relay import run_cli

INVALID_LEVEL_META = {"": {"err": [["invalid_data", {"reason": "invalid level"}]], "val": "warn"}}
UNKNOWN_ATTRIBUTE_META = {"": {"err": ["invalid_attribute"]}}


def normalize(event, *flags):
    result = run_cli(["normalize", "--stdin", *flags], input_text=json.dumps(event))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_invalid_values_and_unknown_attributes_are_reported(relay_bin):
    output = normalize({"level": "warn", "dist": "a b", "foo": {"x": 1}, "culprit": "ok"})

    assert output.get("level") != "warn"
    assert output["_meta"]["level"] == INVALID_LEVEL_META
    assert output["dist"] is None
    assert output["_meta"]["dist"] == {
        "": {"err": [["invalid_data", {"reason": "invalid character ' '"}]], "val": "a b"}
    }
    assert output["foo"] is None
    assert output["_meta"]["foo"] == UNKNOWN_ATTRIBUTE_META
    assert output["culprit"] == "ok"
    assert "culprit" not in output["_meta"]
    # One `errors` entry per error, the original value with it; unknown attributes last.
    errors = output["errors"]
    assert {"type": "invalid_data", "name": "level", "value": "warn", "reason": "invalid level"} in errors
    assert {"type": "invalid_data", "name": "dist", "value": "a b", "reason": "invalid character ' '"} in errors
    assert errors[-1] == {"type": "invalid_attribute", "name": "foo"}
    # `_meta` is the last key of the output.
    assert list(output)[-1] == "_meta"


def test_trimming_only_when_enabled(relay_bin, tmp_path):
    event = {"culprit": "x" * 210}
    assert normalize(event)["culprit"] == "x" * 210

    # A file argument instead of --stdin.
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = run_cli(["normalize", str(path), "--enable-trimming"])
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["culprit"] == "x" * 197 + "..."
    assert output["_meta"]["culprit"] == {"": {"len": 210, "rem": [["!limit", "s", 197, 200]]}}


def test_keep_other_and_renormalize(relay_bin):
    output = normalize({"foo": "bar", "level": "warn"}, "--keep-other")
    assert output["foo"] == "bar"
    assert "foo" not in output["_meta"]
    assert {"type": "invalid_data", "name": "level", "value": "warn", "reason": "invalid level"} in output["errors"]

    # §12: an already normalized event with unknown attributes comes back unchanged.
    event = {"logentry": {"message": "m", "x": 1}, "foo": "x"}
    assert normalize(event, "--renormalize") == event
    output = normalize(event, "--renormalize", "--remove-other")
    assert output["foo"] is None
    assert output["_meta"]["foo"] == UNKNOWN_ATTRIBUTE_META
    assert "errors" not in output


def test_received_time_and_past_timestamps(relay_bin):
    output = normalize(
        {"timestamp": 1500000000},
        "--received",
        "2024-01-01T00:00:00Z",
        "--max-secs-in-past",
        str(90 * 86400),
    )
    assert output["received"] == 1704067200.0
    assert output["timestamp"] == 1704067200.0
    past = {"sdk_time": "2017-07-14T02:40:00+00:00", "server_time": "2024-01-01T00:00:00+00:00"}
    assert output["_meta"]["timestamp"] == {"": {"err": [["past_timestamp", past]]}}
    assert {"type": "past_timestamp", "name": "timestamp", **past} in output["errors"]

    # Without a limit the timestamp stays; without one at all, the received time is used.
    output = normalize({"timestamp": 1500000000}, "--received", "1704067200")
    assert output["timestamp"] == 1500000000.0
    assert "_meta" not in output
    assert normalize({}, "--received", "1704067200.5")["timestamp"] == 1704067200.5


def test_rejected_transaction_exits_with_one(relay_bin):
    result = run_cli(["normalize", "--stdin"], input_text=json.dumps({"type": "transaction"}))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: invalid transaction event: ")


def test_usage_and_input_errors(relay_bin):
    result = run_cli(["normalize"])
    assert result.returncode == 2
    assert "--stdin" in result.stderr

    result = run_cli(["normalize", "--stdin", "--remove-other", "--keep-other"])
    assert result.returncode == 2
    result = run_cli(["normalize", "--stdin", "--received", "yesterday"])
    assert result.returncode == 2
    assert "expected an RFC 3339 date or Unix seconds" in result.stderr

    result = run_cli(["normalize", "--stdin"], input_text="{")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: the input is not valid JSON\n  caused by: ")

    help_text = run_cli(["normalize", "--help"]).stdout
    flags = ["--stdin", "--renormalize", "--enable-trimming", "--remove-other", "--keep-other", "--received"]
    flags += ["--sent-at", "--max-secs-in-past", "--max-secs-in-future", "--event-errors", "--pretty"]
    flags += ["--client-ip", "--infer-ip-address", "--project-id", "--key-id", "--protocol-version"]
    for flag in flags:
        assert flag in help_text
