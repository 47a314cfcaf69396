#!/usr/bin/env python3
"""Writes a small GeoIP (MaxMind DB) file for tests.

Why: Relay fills `user.geo` from a MaxMind City database (`geoip.path`, normalization.md §7
step 5), and real databases are licensed downloads that tests cannot fetch. Integration tests
create a tiny database with known answers at test time instead:

    python3 scripts/make-test-geoip.py "$TMP/geoip.mmdb"
    python3 scripts/make-test-geoip.py OUT.mmdb "1.2.3.0/24=AT,Austria,Vienna,Vienna"

From pytest, `import` it by path and call `write_database(path, records)`, or run it.

It needs only the standard library, and writes the same layout as the Rust test writer
`relay_normalization::geo::testutils` (format: https://maxmind.github.io/MaxMind-DB/): an IPv6
search tree with 32-bit records (IPv4 networks live at ::a.b.c.d/96+n, where readers look IPv4
addresses up), 16 zero bytes, a data section with one GeoIP2-City shaped map per network
(`country.iso_code`, `country.names.en`, `city.names.en`, `subdivisions[0].names.en`), then the
metadata marker and map. Relay reports such a record as `{"country_code": CC, "city": City,
"subdivision": Subdivision, "region": Country}`; empty fields are left out of the record.
A network nested in an earlier one overrides it for its own addresses.

Default records (used when no NETWORK=... argument is given):
"""

import argparse
import ipaddress
import struct
import sys

DEFAULT_RECORDS = {
    # MaxMind's documented test address for Boxford, GB.
    "2.125.160.216/29": ("GB", "United Kingdom", "England", "Boxford"),
    "81.2.69.0/24": ("GB", "United Kingdom", "England", "London"),
    # Documentation ranges (RFC 5737, RFC 3849).
    "192.0.2.0/24": ("AT", "Austria", "Vienna", "Vienna"),
    "2001:db8::/32": ("US", "United States", "California", "San Francisco"),
}

__doc__ += "".join(
    f"    {network} = {','.join(record)}\n" for network, record in DEFAULT_RECORDS.items()
)

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


def _control(type_, size):
    """Control byte(s): 3 type bits (0 = extended, type - 7 in the next byte), 5 size bits."""
    if size < 29:
        size_bits, extra = size, b""
    elif size < 285:
        size_bits, extra = 29, bytes([size - 29])
    elif size < 65821:
        size_bits, extra = 30, struct.pack(">H", size - 285)
    else:
        size_bits, extra = 31, struct.pack(">I", size - 65821)[1:]
    if type_ <= 7:
        return bytes([(type_ << 5) | size_bits]) + extra
    return bytes([size_bits, type_ - 7]) + extra


class UInt:
    """An unsigned integer of MaxMind type 5 (uint16), 6 (uint32) or 9 (uint64)."""

    def __init__(self, type_, value):
        self.type, self.value = type_, value


def encode(value):
    """Encodes str, dict (string keys), list and UInt values."""
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _control(2, len(data)) + data
    if isinstance(value, UInt):
        data = value.value.to_bytes(8, "big").lstrip(b"\0")
        return _control(value.type, len(data)) + data
    if isinstance(value, dict):
        out = _control(7, len(value))
        for key, item in value.items():
            out += encode(key) + encode(item)
        return out
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(item) for item in value)
    raise TypeError(f"cannot encode {value!r}")


def city_record(country_code="", country="", subdivision="", city=""):
    record = {}
    if city:
        record["city"] = {"names": {"en": city}}
    if country_code or country:
        record["country"] = {}
        if country_code:
            record["country"]["iso_code"] = country_code
        if country:
            record["country"]["names"] = {"en": country}
    if subdivision:
        record["subdivisions"] = [{"names": {"en": subdivision}}]
    return record


def build_database(records):
    """Returns the bytes of a database mapping each network (str) to a record tuple
    `(country_code, country, subdivision, city)`."""
    nodes = [[None, None]]  # a slot: None (empty), ("node", index) or ("data", offset)
    data = b""
    for network, record in records.items():
        net = ipaddress.ip_network(network, strict=False)
        if net.version == 4:
            bits, prefix = int(net.network_address), 96 + net.prefixlen
        else:
            bits, prefix = int(net.network_address), net.prefixlen
        if prefix == 0:
            raise ValueError("a network must have a prefix of at least one bit")
        offset = len(data)
        data += encode(city_record(*record))
        node = 0
        for depth in range(prefix):
            bit = (bits >> (127 - depth)) & 1
            if depth + 1 == prefix:
                nodes[node][bit] = ("data", offset)
                break
            slot = nodes[node][bit]
            if slot is not None and slot[0] == "node":
                node = slot[1]
            else:
                # Going below an inserted network splits it: both halves keep its data.
                nodes.append([slot, slot])
                nodes[node][bit] = ("node", len(nodes) - 1)
                node = len(nodes) - 1

    node_count = len(nodes)
    out = bytearray()
    for node in nodes:
        for slot in node:
            if slot is None:
                value = node_count
            elif slot[0] == "node":
                value = slot[1]
            else:
                value = node_count + 16 + slot[1]
            out += struct.pack(">I", value)
    out += bytes(16) + data + METADATA_MARKER
    out += encode(
        {
            "node_count": UInt(6, node_count),
            "record_size": UInt(5, 32),
            "ip_version": UInt(5, 6),
            "database_type": "relay-test-City",
            "languages": ["en"],
            "binary_format_major_version": UInt(5, 2),
            "binary_format_minor_version": UInt(5, 0),
            "build_epoch": UInt(9, 1704067200),
            "description": {"en": "relay test GeoIP database"},
        }
    )
    return bytes(out)


def write_database(path, records=None):
    """Writes the database of `records` (default: DEFAULT_RECORDS) to `path`."""
    with open(path, "wb") as f:
        f.write(build_database(DEFAULT_RECORDS if records is None else records))


def parse_record(argument):
    network, _, fields = argument.partition("=")
    parts = fields.split(",")
    if not network or len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f"expected NETWORK=CC,Country,Subdivision,City, got {argument!r}"
        )
    ipaddress.ip_network(network, strict=False)
    return network, tuple(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", help="the .mmdb file to write")
    parser.add_argument(
        "records",
        nargs="*",
        type=parse_record,
        help="NETWORK=CC,Country,Subdivision,City (fields may be empty); default: see above",
    )
    args = parser.parse_args(argv)
    write_database(args.output, dict(args.records) if args.records else None)


if __name__ == "__main__":
    sys.exit(main())
