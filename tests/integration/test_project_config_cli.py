"""`relay project-config push|show|delete`: the Redis project-config cache writer
(redis-and-quotas.md §2.1).

Needs the Redis on 127.0.0.1:6379 that `scripts/services.sh` starts. Every test uses its own key
prefix and removes its keys afterwards, so the tests can run in parallel (pytest-xdist).

The cache format checked here is Sentry's: `<prefix>:<public key>` holds the project state as
JSON, by default as one zstd frame; `<prefix>:<public key>.rev` holds the plain revision string.
"""

import json
import socket
import uuid

import pytest
import zstandard

from fixtures.projects import new_dsn_key, project_config
from fixtures.relay import run_cli, write_config
from fixtures.util import free_port

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_URL = "redis://%s:%d" % (REDIS_HOST, REDIS_PORT)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SOCKET_TIMEOUT_SECS = 5.0
TTL_SECS = 120
# A TTL read back right after writing has lost at most this much.
TTL_SLACK_MILLIS = 10_000


class Redis:
    """A minimal RESP2 client: enough to inspect and clean up what the CLI wrote."""

    def __init__(self, host=REDIS_HOST, port=REDIS_PORT):
        self._socket = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_SECS)
        self._reader = self._socket.makefile("rb")

    def close(self):
        self._reader.close()
        self._socket.close()

    def command(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._socket.sendall(b"".join(parts))
        return self._read_reply()

    def _read_reply(self):
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("redis closed the connection")
        kind, payload = line[:1], line[1:-2]
        if kind == b"+":
            return payload.decode()
        if kind == b"-":
            raise RuntimeError("redis error: %s" % payload.decode())
        if kind == b":":
            return int(payload)
        if kind == b"$":
            length = int(payload)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(payload)
            if count < 0:
                return None
            return [self._read_reply() for _ in range(count)]
        raise RuntimeError("unexpected redis reply %r" % line)


@pytest.fixture
def redis():
    client = Redis()
    yield client
    client.close()


@pytest.fixture
def prefix(redis):
    """A key prefix of this test only; its keys are deleted afterwards."""
    value = "relay-cli-test:%s" % uuid.uuid4().hex
    yield value
    for key in redis.command("KEYS", value + ":*"):
        redis.command("DEL", key)


@pytest.fixture
def config_dir(tmp_path, relay_bin, prefix):
    """A config directory pointing at the test Redis with this test's prefix."""
    directory = tmp_path / "config"
    write_config(directory, {"processing": {"redis": REDIS_URL, "projectconfig_cache_prefix": prefix}})
    return directory


@pytest.fixture
def bare_config_dir(tmp_path, relay_bin):
    """A config directory without any Redis setting."""
    directory = tmp_path / "bare"
    directory.mkdir()
    (directory / "config.yml").write_text("")
    return directory


def project_config_cli(config_dir, *args, input_text=None, env=None):
    return run_cli(["project-config", *args], config_dir=config_dir, input_text=input_text, env=env)


def assert_success(result):
    assert result.returncode == 0, (result.stdout, result.stderr)


def assert_failure(result, message):
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert message in result.stderr, result.stderr


def write_state(tmp_path, state, name="state.json"):
    path = tmp_path / name
    path.write_text(json.dumps(state, indent=2))
    return path


def decode_value(raw):
    """Sentry's reading rule: a zstd frame if it is one, else plain JSON."""
    if raw.startswith(ZSTD_MAGIC):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    return json.loads(raw)


def config_key(prefix, public_key):
    return "%s:%s" % (prefix, public_key)


def revision_key(prefix, public_key):
    return "%s:%s.rev" % (prefix, public_key)


# --- push -------------------------------------------------------------------------------------


def test_push_from_file_writes_a_zstd_frame_and_the_revision(tmp_path, config_dir, prefix, redis):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    result = project_config_cli(config_dir, "push", str(write_state(tmp_path, state)))
    assert_success(result)
    assert result.stdout == "pushed %s (revision %s, zstd, no expiry)\n" % (
        config_key(prefix, public_key),
        state["rev"],
    )

    raw = redis.command("GET", config_key(prefix, public_key))
    assert raw.startswith(ZSTD_MAGIC)
    # Compact JSON, keys in the order of the input.
    text = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    assert text == json.dumps(state, separators=(",", ":")).encode()
    assert redis.command("GET", revision_key(prefix, public_key)) == state["rev"].encode()
    assert redis.command("PTTL", config_key(prefix, public_key)) == -1
    assert redis.command("PTTL", revision_key(prefix, public_key)) == -1


def test_push_from_stdin_plain_with_ttl(config_dir, prefix, redis):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    result = project_config_cli(
        config_dir, "push", "-", "--plain", "--ttl", str(TTL_SECS), input_text=json.dumps(state)
    )
    assert_success(result)
    assert result.stdout == "pushed %s (revision %s, json, expires in %ds)\n" % (
        config_key(prefix, public_key),
        state["rev"],
        TTL_SECS,
    )

    raw = redis.command("GET", config_key(prefix, public_key))
    assert raw.startswith(b"{")
    assert json.loads(raw) == state
    for key in (config_key(prefix, public_key), revision_key(prefix, public_key)):
        remaining = redis.command("PTTL", key)
        assert TTL_SECS * 1000 - TTL_SLACK_MILLIS < remaining <= TTL_SECS * 1000, (key, remaining)


def test_push_writes_every_public_key_of_the_state(tmp_path, config_dir, prefix, redis):
    first, second = new_dsn_key(), new_dsn_key()
    state = project_config(public_key=first)
    state["publicKeys"].append({"publicKey": second, "numericId": 124})
    result = project_config_cli(config_dir, "push", str(write_state(tmp_path, state)))
    assert_success(result)
    assert len(result.stdout.splitlines()) == 2
    for public_key in (first, second):
        assert decode_value(redis.command("GET", config_key(prefix, public_key))) == state
        assert redis.command("GET", revision_key(prefix, public_key)) == state["rev"].encode()


def test_push_to_explicit_keys_only(tmp_path, config_dir, prefix, redis):
    listed, explicit = new_dsn_key(), new_dsn_key()
    state = project_config(public_key=listed)
    result = project_config_cli(config_dir, "push", str(write_state(tmp_path, state)), "-k", explicit)
    assert_success(result)
    assert decode_value(redis.command("GET", config_key(prefix, explicit))) == state
    assert redis.command("GET", config_key(prefix, listed)) is None


def test_push_without_revision_removes_a_stale_revision(tmp_path, config_dir, prefix, redis):
    public_key = new_dsn_key()
    redis.command("SET", revision_key(prefix, public_key), "stale")
    state = project_config(public_key=public_key)
    del state["rev"]
    result = project_config_cli(config_dir, "push", str(write_state(tmp_path, state)))
    assert_success(result)
    assert "(revision none," in result.stdout
    assert redis.command("GET", revision_key(prefix, public_key)) is None
    assert decode_value(redis.command("GET", config_key(prefix, public_key))) == state


def test_push_replaces_an_older_revision(tmp_path, config_dir, prefix, redis):
    public_key = new_dsn_key()
    old = project_config(public_key=public_key)
    new = project_config(public_key=public_key, slug="renamed")
    assert_success(project_config_cli(config_dir, "push", str(write_state(tmp_path, old, "old.json"))))
    assert_success(project_config_cli(config_dir, "push", str(write_state(tmp_path, new, "new.json"))))
    assert decode_value(redis.command("GET", config_key(prefix, public_key)))["slug"] == "renamed"
    assert redis.command("GET", revision_key(prefix, public_key)) == new["rev"].encode()


# Parameters must be identical in every xdist worker, so no random keys here.
FIXED_PUBLIC_KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "document, message",
    [
        ("[1, 2]", "must be a JSON object"),
        ("{", "is not valid JSON"),
        (json.dumps({"disabled": False, "rev": "x"}), "lists no publicKeys[].publicKey; pass --public-key"),
        (json.dumps({"publicKeys": [{"publicKey": "short"}]}), "invalid public key `short`"),
        (json.dumps({"publicKeys": [{"publicKey": FIXED_PUBLIC_KEY}], "rev": 5}), '"rev" field must be a string or null'),
    ],
    ids=["array", "broken-json", "no-keys", "short-key", "numeric-rev"],
)
def test_push_refuses_bad_documents(config_dir, prefix, redis, document, message):
    result = project_config_cli(config_dir, "push", "-", input_text=document)
    assert_failure(result, message)
    assert redis.command("KEYS", prefix + ":*") == []


def test_push_missing_file(tmp_path, config_dir):
    missing = tmp_path / "missing.json"
    result = project_config_cli(config_dir, "push", str(missing))
    assert_failure(result, "could not read the project config from %s" % missing)


def test_zero_ttl_is_a_usage_error(config_dir):
    result = project_config_cli(config_dir, "push", "-", "--ttl", "0", input_text="{}")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.lstrip().startswith("error:")


# --- show -------------------------------------------------------------------------------------


def test_show_prints_the_state_and_its_metadata(tmp_path, config_dir, prefix):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    assert_success(
        project_config_cli(config_dir, "push", str(write_state(tmp_path, state)), "--ttl", str(TTL_SECS))
    )
    result = project_config_cli(config_dir, "show", public_key)
    assert_success(result)
    assert json.loads(result.stdout) == state
    assert "revision: %s\n" % state["rev"] in result.stderr
    assert "encoding: zstd\n" in result.stderr
    assert "expires: %ds\n" % TTL_SECS in result.stderr or "expires: %ds\n" % (TTL_SECS - 1) in result.stderr


@pytest.mark.parametrize("compressed", [True, False], ids=["zstd", "plain"])
def test_show_reads_what_sentry_wrote(config_dir, prefix, redis, compressed):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    text = json.dumps(state).encode()
    value = zstandard.ZstdCompressor().compress(text) if compressed else text
    redis.command("SET", config_key(prefix, public_key), value)
    redis.command("SET", revision_key(prefix, public_key), state["rev"])

    result = project_config_cli(config_dir, "show", public_key)
    assert_success(result)
    assert json.loads(result.stdout) == state
    assert "revision: %s\n" % state["rev"] in result.stderr
    assert ("encoding: zstd\n" if compressed else "encoding: json\n") in result.stderr
    assert "expires: never\n" in result.stderr


def test_show_then_push_round_trips(tmp_path, config_dir, prefix, redis):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    assert_success(project_config_cli(config_dir, "push", str(write_state(tmp_path, state))))
    shown = project_config_cli(config_dir, "show", public_key)
    assert_success(shown)
    other = new_dsn_key()
    assert_success(project_config_cli(config_dir, "push", "-", "-k", other, input_text=shown.stdout))
    assert redis.command("GET", config_key(prefix, other)) == redis.command("GET", config_key(prefix, public_key))


def test_show_missing_key(config_dir, prefix):
    public_key = new_dsn_key()
    result = project_config_cli(config_dir, "show", public_key)
    assert_failure(
        result,
        "no project config cached for %s (redis key %s)" % (public_key, config_key(prefix, public_key)),
    )


def test_show_undecodable_value(config_dir, prefix, redis):
    public_key = new_dsn_key()
    redis.command("SET", config_key(prefix, public_key), b"\x00not json")
    result = project_config_cli(config_dir, "show", public_key)
    assert_failure(result, "could not read the project config for %s" % public_key)
    assert "is not JSON (neither zstd-compressed nor plain)" in result.stderr


# --- delete -----------------------------------------------------------------------------------


def test_delete_removes_value_and_revision(tmp_path, config_dir, prefix, redis):
    public_key, kept = new_dsn_key(), new_dsn_key()
    state = project_config(public_key=public_key)
    state["publicKeys"].append({"publicKey": kept, "numericId": 9})
    assert_success(project_config_cli(config_dir, "push", str(write_state(tmp_path, state))))

    result = project_config_cli(config_dir, "delete", public_key)
    assert_success(result)
    assert result.stdout == "deleted %s\n" % config_key(prefix, public_key)
    assert redis.command("GET", config_key(prefix, public_key)) is None
    assert redis.command("GET", revision_key(prefix, public_key)) is None
    assert redis.command("GET", config_key(prefix, kept)) is not None

    again = project_config_cli(config_dir, "delete", public_key)
    assert_success(again)
    assert again.stdout == "nothing cached for %s\n" % config_key(prefix, public_key)


def test_delete_invalid_key(config_dir):
    assert_failure(project_config_cli(config_dir, "delete", "nope"), "invalid public key `nope`")


# --- where Redis comes from -------------------------------------------------------------------


def test_redis_url_and_prefix_flags(bare_config_dir, prefix, redis):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    flags = ["--redis-url", REDIS_URL, "--prefix", prefix]
    assert_success(project_config_cli(bare_config_dir, "push", "-", *flags, input_text=json.dumps(state)))
    assert decode_value(redis.command("GET", config_key(prefix, public_key))) == state
    shown = project_config_cli(bare_config_dir, "show", public_key, *flags)
    assert_success(shown)
    assert json.loads(shown.stdout) == state


def test_relay_redis_url_environment(bare_config_dir, prefix, redis):
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    result = project_config_cli(
        bare_config_dir,
        "push",
        "-",
        "--prefix",
        prefix,
        input_text=json.dumps(state),
        env={"RELAY_REDIS_URL": REDIS_URL},
    )
    assert_success(result)
    assert decode_value(redis.command("GET", config_key(prefix, public_key))) == state


def test_default_prefix_is_relayconfig(tmp_path, relay_bin, redis):
    public_key = new_dsn_key()
    directory = tmp_path / "default-prefix"
    write_config(directory, {"processing": {"redis": {"server": REDIS_URL, "max_connections": 2}}})
    state = project_config(public_key=public_key)
    try:
        assert_success(project_config_cli(directory, "push", "-", input_text=json.dumps(state)))
        assert decode_value(redis.command("GET", "relayconfig:%s" % public_key)) == state
        assert redis.command("GET", "relayconfig:%s.rev" % public_key) == state["rev"].encode()
    finally:
        redis.command("DEL", "relayconfig:%s" % public_key)
        redis.command("DEL", "relayconfig:%s.rev" % public_key)


def test_split_config_uses_the_project_configs_pool(tmp_path, relay_bin, prefix, redis):
    directory = tmp_path / "split"
    unreachable = "redis://127.0.0.1:%d" % free_port()
    write_config(
        directory,
        {
            "processing": {
                "redis": {"project_configs": REDIS_URL, "quotas": unreachable},
                "projectconfig_cache_prefix": prefix,
            }
        },
    )
    public_key = new_dsn_key()
    state = project_config(public_key=public_key)
    assert_success(project_config_cli(directory, "push", "-", input_text=json.dumps(state)))
    assert decode_value(redis.command("GET", config_key(prefix, public_key))) == state


def test_no_redis_configured(bare_config_dir):
    result = project_config_cli(bare_config_dir, "show", new_dsn_key())
    assert_failure(result, "no redis configured")


def test_invalid_redis_setting_names_the_setting(tmp_path, relay_bin):
    directory = tmp_path / "broken"
    write_config(directory, {"processing": {"redis": {"server": "", "max_connections": 3}}})
    result = project_config_cli(directory, "show", new_dsn_key())
    assert_failure(result, "invalid config value (field processing.redis.server): the redis URL is empty")


def test_unreachable_redis(bare_config_dir):
    port = free_port()
    result = project_config_cli(
        bare_config_dir, "show", new_dsn_key(), "--redis-url", "redis://127.0.0.1:%d" % port
    )
    assert_failure(result, "could not connect to redis at 127.0.0.1:%d (configured by --redis-url)" % port)
