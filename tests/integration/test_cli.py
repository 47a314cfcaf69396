"""The command line (config.md §1, §2, §5, §6)."""

import json
import os
import re
import stat
import uuid

import pytest

from fixtures import signing
from fixtures.projects import project_config
from fixtures.relay import RELAY_VERSION, run_cli, write_config
from fixtures.util import free_port

MANAGED_WITHOUT_CREDENTIALS = (
    'relay has no credentials, which are required in managed mode. Generate some with "relay credentials generate" first.'
)


@pytest.fixture
def config_dir(tmp_path, relay_bin):
    """A config directory with an empty (all defaults) config.yml."""
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "config.yml").write_text("")
    return directory


def _credentials_path(config_dir):
    return config_dir / "credentials.json"


def _read_credentials(config_dir):
    return json.loads(_credentials_path(config_dir).read_text())


def _identity_lines(header, credentials):
    return [header, "  relay id: %s" % credentials["id"], "  public key: %s" % credentials["public_key"]]


def _assert_usage_error(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.lstrip().startswith("error:"), result.stderr


# --- version and usage ------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(relay_bin, flag):
    result = run_cli([flag])
    assert result.returncode == 0
    assert result.stdout == "relay %s\n" % RELAY_VERSION


def test_subcommand_version(relay_bin):
    result = run_cli(["run", "--version"])
    assert result.returncode == 0
    assert result.stdout == "relay-run %s\n" % RELAY_VERSION


def test_help(relay_bin):
    result = run_cli(["--help"])
    assert result.returncode == 0
    assert "credentials" in result.stdout and "run" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["no-such-command"],
        ["--log-level", "foo", "config", "show"],
        ["--log-format", "xml", "config", "show"],
        ["credentials", "generate", "--no-such-flag"],
        ["run", "--upstream", "http://127.0.0.1:1/", "--upstream-dsn", "http://%s@127.0.0.1:1/1" % ("a" * 32)],
        ["run", "--secret-key", "x"],
        ["healthcheck", "--mode", "sideways"],
    ],
)
def test_usage_errors_exit_2(relay_bin, args):
    _assert_usage_error(run_cli(args))


def test_global_options_after_subcommand(config_dir):
    result = run_cli(["config", "show", "--log-level", "error"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    assert "max_event_size" in result.stdout


def test_generate_completions(relay_bin):
    result = run_cli(["generate-completions", "-f", "bash"])
    assert result.returncode == 0
    assert "relay" in result.stdout


# --- credentials ---------------------------------------------------------------------------------


def test_credentials_generate(config_dir):
    result = run_cli(["credentials", "generate"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    path = _credentials_path(config_dir)
    credentials = _read_credentials(config_dir)
    assert result.stdout.splitlines() == _identity_lines("Generated new credentials", credentials)
    assert list(credentials) == ["secret_key", "public_key", "id"]
    assert path.read_text() == json.dumps(credentials, indent=2) + "\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(credentials["public_key"]) == 43 and len(credentials["secret_key"]) == 43
    assert signing.public_key_from_secret(credentials["secret_key"]) == credentials["public_key"]
    parsed_id = uuid.UUID(credentials["id"])
    assert parsed_id.version == 4 and str(parsed_id) == credentials["id"]


def test_credentials_generated_keys_sign(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    credentials = _read_credentials(config_dir)
    signature = signing.sign(credentials["secret_key"], b"data")
    signing.verify(credentials["public_key"], signature, b"data")


def test_credentials_generate_refuses_to_overwrite(config_dir):
    assert run_cli(["credentials", "generate"], config_dir=config_dir).returncode == 0
    before = _read_credentials(config_dir)
    again = run_cli(["credentials", "generate"], config_dir=config_dir)
    assert again.returncode == 1
    assert "aborting because credentials already exist. Pass --overwrite to force." in again.stderr
    assert _read_credentials(config_dir) == before
    overwritten = run_cli(["credentials", "generate", "--overwrite"], config_dir=config_dir)
    assert overwritten.returncode == 0
    assert _read_credentials(config_dir)["id"] != before["id"]


def test_credentials_generate_stdout(config_dir):
    result = run_cli(["credentials", "generate", "--stdout"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line
    credentials = json.loads(line)
    assert list(credentials) == ["secret_key", "public_key", "id"]
    assert json.dumps(credentials, separators=(",", ":")) == line
    assert not _credentials_path(config_dir).exists()


def test_credentials_show(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    credentials = _read_credentials(config_dir)
    result = run_cli(["credentials", "show"], config_dir=config_dir)
    assert result.returncode == 0
    assert result.stdout.splitlines() == _identity_lines("Credentials:", credentials)
    assert credentials["secret_key"] not in result.stdout


def test_credentials_show_without_credentials(config_dir):
    result = run_cli(["credentials", "show"], config_dir=config_dir)
    assert result.returncode == 1
    assert "no stored credentials" in result.stderr


def test_credentials_show_reflects_environment(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    other_id = str(uuid.uuid4())
    result = run_cli(["credentials", "show"], config_dir=config_dir, env={"RELAY_ID": other_id})
    assert result.returncode == 0
    assert "  relay id: %s" % other_id in result.stdout.splitlines()


def test_incomplete_credentials_from_environment(config_dir):
    result = run_cli(["credentials", "show"], config_dir=config_dir, env={"RELAY_ID": str(uuid.uuid4())})
    assert result.returncode == 1
    assert "invalid config value (field incomplete credentials)" in result.stderr


def test_credentials_remove(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    result = run_cli(["credentials", "remove", "--yes"], config_dir=config_dir)
    assert result.returncode == 0
    assert result.stdout.strip() == "Credentials removed"
    assert not _credentials_path(config_dir).exists()
    again = run_cli(["credentials", "remove", "--yes"], config_dir=config_dir)
    assert again.returncode == 0
    assert again.stdout.strip() == "No credentials"


def test_credentials_set(config_dir):
    credentials = signing.generate_credentials()
    result = run_cli(
        ["credentials", "set", "-s", credentials["secret_key"], "-p", credentials["public_key"], "-i", credentials["id"]],
        config_dir=config_dir,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == _identity_lines("Stored updated credentials:", credentials)
    assert _read_credentials(config_dir) == credentials
    assert stat.S_IMODE(os.stat(_credentials_path(config_dir)).st_mode) == 0o600


def test_credentials_set_random_id(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    before = _read_credentials(config_dir)
    result = run_cli(["credentials", "set", "-i", "random"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    after = _read_credentials(config_dir)
    assert after["id"] != before["id"]
    assert after["public_key"] == before["public_key"] and after["secret_key"] == before["secret_key"]
    assert result.stdout.splitlines()[0] == "Stored updated credentials:"


def test_credentials_set_nothing_changed(config_dir):
    run_cli(["credentials", "generate"], config_dir=config_dir)
    result = run_cli(["credentials", "set"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    assert "Nothing was changed" in result.stdout
    assert "Run `relay credentials remove` first to remove all stored credentials." in result.stdout


@pytest.mark.parametrize(
    "field, message",
    [("secret", "invalid secret key supplied"), ("public", "invalid public key supplied"), ("id", "invalid relay id supplied")],
)
def test_credentials_set_invalid_values(config_dir, field, message):
    credentials = signing.generate_credentials()
    values = {"secret": credentials["secret_key"], "public": credentials["public_key"], "id": credentials["id"]}
    values[field] = "not-valid!"
    result = run_cli(
        ["credentials", "set", "-s", values["secret"], "-p", values["public"], "-i", values["id"]], config_dir=config_dir
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert not _credentials_path(config_dir).exists()


def test_credentials_with_missing_config_file(tmp_path, relay_bin):
    missing = tmp_path / "missing"
    result = run_cli(["credentials", "generate"], config_dir=missing)
    assert result.returncode == 1
    assert "could not open config file (file %s/config.yml)" % missing in result.stderr


# --- config ---------------------------------------------------------------------------------------


def test_missing_config_dir_for_run(tmp_path, relay_bin):
    missing = tmp_path / "nowhere"
    result = run_cli(["run"], config_dir=missing)
    assert result.returncode == 1
    assert "could not open config file (file %s/config.yml)" % missing in result.stderr


def test_bad_yaml_mentions_file_and_line(config_dir):
    (config_dir / "config.yml").write_text("relay:\n  mode: proxy\n  port: [unclosed\n")
    for args in (["run"], ["config", "show"], ["credentials", "show"]):
        result = run_cli(args, config_dir=config_dir)
        assert result.returncode == 1, args
        assert "config.yml" in result.stderr, result.stderr
        assert re.search(r"line \d+", result.stderr), result.stderr


def test_type_error_is_fatal(config_dir):
    write_config(config_dir, {"relay": {"mode": "proxy", "port": "not a port"}})
    result = run_cli(["config", "show"], config_dir=config_dir)
    assert result.returncode == 1


def test_unknown_keys_are_ignored(config_dir):
    write_config(config_dir, {"relay": {"mode": "proxy", "bogus": 1}, "cache": {"event_buffer_expiry": 5}, "extra": {}})
    result = run_cli(["config", "show"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    assert re.search(r"mode: ['\"]?proxy", result.stdout), result.stdout
    assert "bogus" not in result.stdout and "event_buffer_expiry" not in result.stdout


def test_config_show(config_dir):
    write_config(config_dir, {"relay": {"mode": "proxy", "upstream": "http://127.0.0.1:9"}})
    run_cli(["credentials", "generate"], config_dir=config_dir)
    result = run_cli(["config", "show"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    assert re.search(r"mode: ['\"]?proxy", result.stdout), result.stdout
    assert "http://127.0.0.1:9/" in result.stdout
    assert "max_event_size" in result.stdout  # defaults are included
    assert _read_credentials(config_dir)["secret_key"] not in result.stdout
    debug = run_cli(["config", "show", "-f", "debug"], config_dir=config_dir)
    assert debug.returncode == 0, debug.stderr
    assert debug.stdout.strip()


def test_config_init_generates_credentials_for_managed_config(config_dir):
    write_config(config_dir, {"relay": {"mode": "managed"}})
    result = run_cli(["config", "init"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Initializing relay in %s" % config_dir
    credentials = _read_credentials(config_dir)
    assert "Generated new credentials" in lines
    assert "  relay id: %s" % credentials["id"] in lines
    assert lines[-1] == "All done!"
    again = run_cli(["config", "init"], config_dir=config_dir)
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1] == "Nothing to do."
    assert _read_credentials(config_dir) == credentials


def test_config_init_proxy_needs_nothing(config_dir):
    write_config(config_dir, {"relay": {"mode": "proxy"}})
    result = run_cli(["config", "init"], config_dir=config_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Nothing to do."
    assert not _credentials_path(config_dir).exists()


# --- run startup checks -----------------------------------------------------------------------------


def test_managed_mode_without_credentials(config_dir):
    write_config(config_dir, {"relay": {"mode": "managed", "port": free_port()}})
    result = run_cli(["run"], config_dir=config_dir)
    assert result.returncode == 1
    assert MANAGED_WITHOUT_CREDENTIALS in result.stderr


def test_invalid_mode_in_config(config_dir):
    write_config(config_dir, {"relay": {"mode": "capture"}})
    result = run_cli(["run"], config_dir=config_dir)
    assert result.returncode == 1
    assert "unknown variant" in result.stderr


def test_invalid_mode_from_environment(config_dir):
    result = run_cli(["config", "show"], config_dir=config_dir, env={"RELAY_MODE": "foo"})
    assert result.returncode == 1
    assert "Relay mode must be one of: managed or proxy" in result.stderr


def test_host_names_are_rejected(config_dir):
    write_config(config_dir, {"relay": {"mode": "proxy", "port": free_port()}})
    result = run_cli(["run"], config_dir=config_dir, env={"RELAY_HOST": "localhost"})
    assert result.returncode == 1
    assert "invalid config value (field host)" in result.stderr


def test_static_mode_is_accepted(relay, upstream):
    instance = relay(upstream, mode="static", projects={42: project_config()})
    assert instance.is_running()
    assert instance.get("/api/relay/healthcheck/live/").status_code == 200


def test_static_mode_needs_projects_dir(config_dir):
    write_config(config_dir, {"relay": {"mode": "static", "port": free_port()}})
    run_cli(["credentials", "generate"], config_dir=config_dir)
    result = run_cli(["run"], config_dir=config_dir, timeout=20)
    assert result.returncode == 1
    assert "projects" in result.stderr


# --- healthcheck command ------------------------------------------------------------------------------


def test_healthcheck_command_against_running_relay(proxy_relay):
    proxy_relay.wait_ready()
    assert proxy_relay.cli("healthcheck").returncode == 0
    assert proxy_relay.cli("healthcheck", "--mode", "live", "--addr", "127.0.0.1:%d" % proxy_relay.port).returncode == 0
    assert proxy_relay.cli("healthcheck", "--mode", "ready").returncode == 0


def test_healthcheck_command_unreachable(config_dir):
    result = run_cli(["healthcheck", "--addr", "127.0.0.1:%d" % free_port(), "--timeout", "2"], config_dir=config_dir)
    assert result.returncode == 1


def test_healthcheck_command_unhealthy(config_dir, upstream):
    upstream.add_route("GET", r"^/api/relay/healthcheck/ready/$", lambda r: (503, [], b'{"is_healthy":false}'))
    result = run_cli(["healthcheck", "--mode", "ready", "--addr", "127.0.0.1:%d" % upstream.port], config_dir=config_dir)
    assert result.returncode == 1
    assert "Relay is unhealthy. Status code: 503" in result.stderr
