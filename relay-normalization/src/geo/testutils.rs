//! A minimal MaxMind DB *writer*, so tests can create the GeoIP databases they read.
//!
//! The format is public (<https://maxmind.github.io/MaxMind-DB/>): a binary search tree over the
//! address bits, 16 zero bytes, a data section of typed values, then the marker
//! `\xAB\xCD\xEFMaxMind.com` followed by a metadata map. This writer produces the simplest
//! valid database and nothing more:
//!
//! * an IPv6 tree (`ip_version` 6) with 32-bit records; IPv4 networks are inserted at
//!   `::a.b.c.d/(96 + prefix)`, which is where readers look IPv4 addresses up;
//! * GeoIP2-City shaped records (`country.iso_code`, `country.names.en`, `city.names.en`,
//!   `subdivisions[].names.en`), one data-section entry per network (no deduplication, no
//!   pointers);
//! * a network nested in an earlier one overrides it for its addresses; a network inserted
//!   after one nested in it replaces it.
//!
//! `scripts/make-test-geoip.py` writes the same layout from Python, for integration tests that
//! need a database file at test time without building Rust code.

use std::io;
use std::net::IpAddr;
use std::path::Path;

/// What a test database knows about one network (all names are English).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestGeoRecord {
    /// `country.iso_code`, e.g. `AT`.
    pub country_code: Option<String>,
    /// `country.names.en`, e.g. `Austria`.
    pub country: Option<String>,
    /// `city.names.en`, e.g. `Vienna`.
    pub city: Option<String>,
    /// `subdivisions[0].names.en`, e.g. `Vienna` (one subdivision at most).
    pub subdivision: Option<String>,
}

impl TestGeoRecord {
    /// A record with all four fields set.
    pub fn new(country_code: &str, country: &str, subdivision: &str, city: &str) -> Self {
        Self {
            country_code: Some(country_code.to_owned()),
            country: Some(country.to_owned()),
            city: Some(city.to_owned()),
            subdivision: Some(subdivision.to_owned()),
        }
    }
}

/// A value of the MaxMind DB data section (only the types this writer needs).
enum DataValue {
    String(String),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    Map(Vec<(String, DataValue)>),
    Array(Vec<DataValue>),
}

impl DataValue {
    fn map(entries: Vec<(&str, DataValue)>) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        )
    }

    fn names(english: &str) -> Self {
        Self::map(vec![(
            "names",
            Self::map(vec![("en", Self::String(english.to_owned()))]),
        )])
    }

    /// The control byte(s) of a value: 3 type bits (0 = extended, the type then follows in the
    /// next byte as `type - 7`) and 5 size bits (29, 30, 31 announce 1, 2, 3 size bytes).
    fn write_control(out: &mut Vec<u8>, ty: u8, size: usize) {
        let (size_bits, extra): (u8, Vec<u8>) = match size {
            0..=28 => (size as u8, Vec::new()),
            29..=284 => (29, vec![(size - 29) as u8]),
            285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
            _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
        };
        if ty <= 7 {
            out.push((ty << 5) | size_bits);
        } else {
            out.push(size_bits);
            out.push(ty - 7);
        }
        out.extend(extra);
    }

    fn write_uint(out: &mut Vec<u8>, ty: u8, value: u64) {
        let bytes = value.to_be_bytes();
        let skip = bytes.iter().take_while(|byte| **byte == 0).count();
        Self::write_control(out, ty, bytes.len() - skip);
        out.extend(&bytes[skip..]);
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::String(string) => {
                Self::write_control(out, 2, string.len());
                out.extend(string.as_bytes());
            }
            Self::UInt16(value) => Self::write_uint(out, 5, u64::from(*value)),
            Self::UInt32(value) => Self::write_uint(out, 6, u64::from(*value)),
            Self::UInt64(value) => Self::write_uint(out, 9, *value),
            Self::Map(entries) => {
                Self::write_control(out, 7, entries.len());
                for (key, value) in entries {
                    Self::String(key.clone()).encode(out);
                    value.encode(out);
                }
            }
            Self::Array(values) => {
                Self::write_control(out, 11, values.len());
                for value in values {
                    value.encode(out);
                }
            }
        }
    }
}

/// The GeoIP2-City shaped map of `record`; absent and empty fields are left out (as in
/// `scripts/make-test-geoip.py`, so both write the same bytes).
fn record_value(record: &TestGeoRecord) -> DataValue {
    let field = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let mut entries = Vec::new();
    if let Some(city) = field(&record.city) {
        entries.push(("city", DataValue::names(&city)));
    }
    let (code, name) = (field(&record.country_code), field(&record.country));
    if code.is_some() || name.is_some() {
        let mut country = Vec::new();
        if let Some(code) = code {
            country.push(("iso_code", DataValue::String(code)));
        }
        if let Some(name) = name {
            country.push((
                "names",
                DataValue::map(vec![("en", DataValue::String(name))]),
            ));
        }
        entries.push(("country", DataValue::map(country)));
    }
    if let Some(subdivision) = field(&record.subdivision) {
        entries.push((
            "subdivisions",
            DataValue::Array(vec![DataValue::names(&subdivision)]),
        ));
    }
    DataValue::map(entries)
}

/// A record of the search tree while building it.
#[derive(Clone, Copy)]
enum Slot {
    Empty,
    Node(usize),
    /// Offset into the data section.
    Data(usize),
}

/// The 128 address bits of `network` (IPv4 mapped to `::a.b.c.d`) and its prefix length in
/// the IPv6 tree.
fn network_bits(address: IpAddr, prefix: u8) -> io::Result<(u128, u8)> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "prefix too long");
    match address {
        IpAddr::V4(v4) if prefix <= 32 => Ok((u128::from(u32::from(v4)), 96 + prefix)),
        IpAddr::V6(v6) if prefix <= 128 => Ok((u128::from(v6), prefix)),
        _ => Err(invalid()),
    }
}

/// Parses `a.b.c.d/n` or `x::y/n` (a bare address is a host network).
fn parse_network(network: &str) -> io::Result<(IpAddr, u8)> {
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid network {network:?}: {what}"),
        )
    };
    let (address, prefix) = network.split_once('/').unwrap_or((network, ""));
    let address: IpAddr = address.parse().map_err(|_| invalid("bad address"))?;
    let prefix = if prefix.is_empty() {
        if address.is_ipv4() {
            32
        } else {
            128
        }
    } else {
        prefix.parse().map_err(|_| invalid("bad prefix"))?
    };
    Ok((address, prefix))
}

/// Builds a database mapping each network (`"1.2.3.0/24"`, `"2001:db8::/32"`) to its record.
pub fn build_test_database(entries: &[(&str, TestGeoRecord)]) -> io::Result<Vec<u8>> {
    let mut nodes: Vec<[Slot; 2]> = vec![[Slot::Empty; 2]];
    let mut data = Vec::new();
    for (network, record) in entries {
        let (address, prefix) = parse_network(network)?;
        let (bits, prefix) = network_bits(address, prefix)?;
        if prefix == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a network must have a prefix of at least one bit",
            ));
        }
        let offset = data.len();
        record_value(record).encode(&mut data);

        let mut node = 0;
        for depth in 0..prefix {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth + 1 == prefix {
                nodes[node][bit] = Slot::Data(offset);
                break;
            }
            node = match nodes[node][bit] {
                Slot::Node(next) => next,
                // Going below an inserted network splits it: both halves keep its data.
                slot => {
                    nodes.push([slot; 2]);
                    let next = nodes.len() - 1;
                    nodes[node][bit] = Slot::Node(next);
                    next
                }
            };
        }
    }

    let node_count = nodes.len();
    let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "database too large");
    let mut out = Vec::with_capacity(node_count * 8 + 16 + data.len() + 256);
    for node in &nodes {
        for slot in node {
            // A record is a node index, `node_count` for "no data", or `node_count + 16 +
            // offset` for data (the 16 bytes being the separator before the data section).
            let value = match *slot {
                Slot::Empty => node_count,
                Slot::Node(index) => index,
                Slot::Data(offset) => node_count + 16 + offset,
            };
            let value = u32::try_from(value).map_err(|_| too_large())?;
            out.extend(value.to_be_bytes());
        }
    }
    out.extend([0u8; 16]);
    out.extend(&data);

    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = DataValue::map(vec![
        (
            "node_count",
            DataValue::UInt32(u32::try_from(node_count).map_err(|_| too_large())?),
        ),
        ("record_size", DataValue::UInt16(32)),
        ("ip_version", DataValue::UInt16(6)),
        (
            "database_type",
            DataValue::String("relay-test-City".to_owned()),
        ),
        (
            "languages",
            DataValue::Array(vec![DataValue::String("en".to_owned())]),
        ),
        ("binary_format_major_version", DataValue::UInt16(2)),
        ("binary_format_minor_version", DataValue::UInt16(0)),
        ("build_epoch", DataValue::UInt64(1_704_067_200)),
        (
            "description",
            DataValue::map(vec![(
                "en",
                DataValue::String("relay test GeoIP database".to_owned()),
            )]),
        ),
    ]);
    metadata.encode(&mut out);
    Ok(out)
}

/// Writes [`build_test_database`]'s database to `path`.
pub fn write_test_database(path: &Path, entries: &[(&str, TestGeoRecord)]) -> io::Result<()> {
    std::fs::write(path, build_test_database(entries)?)
}
