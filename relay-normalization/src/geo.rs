//! GeoIP: the approximate location of the user from their IP address (normalization.md §7
//! step 5).
//!
//! [`GeoIpLookup`] reads a MaxMind DB file (GeoIP2/GeoLite2 City, format:
//! <https://maxmind.github.io/MaxMind-DB/>) and answers [`Geo`] records: `country_code` (the
//! country's ISO code), `city` (English city name), `subdivision` (English name of the first,
//! largest subdivision) and `region` (English country name). The server opens it once from
//! `geoip.path` (else the legacy `processing.geoip_path`, see
//! `relay_config::Config::geoip_path`) and shares it through
//! [`crate::NormalizationConfig::geoip_lookup`].
//!
//! The database is read into memory in full rather than memory-mapped: mapping needs `unsafe`
//! (which the workspace forbids) because a file truncated or replaced in place while mapped
//! crashes the process; a City database is tens of MB, read once at startup and shared.
//!
//! [`normalize_user_geo`] (the step) fills `user.geo` only when it is absent, from
//! `user.ip_address` (`{{auto}}` ignored) or else the submitting client's IP address. Unlike
//! the IP inference of §7.1, the client IP is used whatever the inference setting: §7 step 5
//! names no such condition, and the location is not the address. Addresses the database does
//! not know, or knows nothing useful about, leave the event untouched.
//!
//! # Test databases
//!
//! Tests create the databases they read. In Rust, `geo::testutils` (with `cfg(test)` or the
//! `test-utils` feature) writes one:
//!
//! ```text
//! use relay_normalization::geo::testutils::{write_test_database, TestGeoRecord};
//! write_test_database(&path, &[("2.125.160.0/24",
//!     TestGeoRecord::new("GB", "United Kingdom", "England", "Boxford"))])?;
//! ```
//!
//! Other tests (pytest) run `python3 scripts/make-test-geoip.py OUT.mmdb` (standard library
//! only), which writes the same layout; with no further arguments it writes the default
//! records listed in its `--help`, or takes `NETWORK=CC,Country,Subdivision,City` arguments.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{geoip2, MaxMindDbError, Reader};
use relay_event::schema::{Event, Geo, User};
use relay_event::Annotated;

#[cfg(any(test, feature = "test-utils"))]
pub mod testutils;

/// Why a GeoIP database cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file does not exist.
    #[error(
        "GeoIP database {path:?} does not exist: set `geoip.path` to a MaxMind DB file \
         (for example GeoLite2-City.mmdb) or remove the setting"
    )]
    NotFound {
        /// The configured path.
        path: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a directory, I/O errors).
    #[error("cannot read GeoIP database {path:?}: {source}")]
    Unreadable {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a MaxMind DB.
    #[error(
        "{path:?} is not a MaxMind DB file ({source}): `geoip.path` needs a GeoIP2 or \
         GeoLite2 City database in .mmdb format"
    )]
    InvalidDatabase {
        /// The configured path (empty for in-memory databases).
        path: PathBuf,
        /// What the reader found wrong.
        #[source]
        source: MaxMindDbError,
    },
    /// A lookup failed because the database is corrupt at the record found.
    #[error("GeoIP lookup failed: {0}")]
    Lookup(#[source] MaxMindDbError),
}

/// An open MaxMind DB, read into memory (see the module docs); cheap to share in an `Arc`.
pub struct GeoIpLookup {
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIpLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metadata = self.reader.metadata();
        f.debug_struct("GeoIpLookup")
            .field("database_type", &metadata.database_type)
            .field("build_epoch", &metadata.build_epoch)
            .finish()
    }
}

impl GeoIpLookup {
    /// Reads the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoIpError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                GeoIpError::NotFound {
                    path: path.to_owned(),
                }
            } else {
                GeoIpError::Unreadable {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::from_bytes_at(bytes, path)
    }

    /// Uses the database in `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
        Self::from_bytes_at(bytes, Path::new(""))
    }

    fn from_bytes_at(bytes: Vec<u8>, path: &Path) -> Result<Self, GeoIpError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoIpError::InvalidDatabase {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self { reader })
    }

    /// The location of `ip`: `None` when the database has no record for it, or a record
    /// without any of the four fields.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Geo>, GeoIpError> {
        let result = self.reader.lookup(ip).map_err(GeoIpError::Lookup)?;
        let Some(city) = result
            .decode::<geoip2::City<'_>>()
            .map_err(GeoIpError::Lookup)?
        else {
            return Ok(None);
        };
        let owned = |value: Option<&str>| Annotated(value.map(str::to_owned), Default::default());
        let geo = Geo {
            country_code: owned(city.country.iso_code),
            city: owned(city.city.names.english),
            subdivision: owned(city.subdivisions.first().and_then(|s| s.names.english)),
            region: owned(city.country.names.english),
            ..Geo::default()
        };
        let empty = geo.country_code.value().is_none()
            && geo.city.value().is_none()
            && geo.subdivision.value().is_none()
            && geo.region.value().is_none();
        Ok((!empty).then_some(geo))
    }
}

const AUTO: &str = "{{auto}}";

/// §7 step 5: sets `user.geo` (creating `user`) when it is absent and the user's IP address,
/// or else `client_ip`, has a location in `lookup`.
pub fn normalize_user_geo(event: &mut Event, lookup: &GeoIpLookup, client_ip: Option<IpAddr>) {
    fill_user_geo(&mut event.user, lookup, client_ip);
}

/// The GeoIP step on any payload with a `user` (events, replay events): `user.geo` from the
/// user's IP address, or else `client_ip`, unless a location is already there.
pub fn fill_user_geo(
    user_slot: &mut Annotated<User>,
    lookup: &GeoIpLookup,
    client_ip: Option<IpAddr>,
) {
    let user = user_slot.value();
    if user.is_some_and(|user| user.geo.value().is_some()) {
        return;
    }
    let user_ip = user
        .and_then(|user| user.ip_address.value())
        .filter(|ip| ip.as_str() != AUTO)
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let Some(ip) = user_ip.or(client_ip) else {
        return;
    };
    // A lookup error means a corrupt record: the payload goes on without a location.
    if let Ok(Some(geo)) = lookup.lookup(ip) {
        let user = user_slot.get_or_insert_with(User::default);
        user.geo = Annotated::new(geo);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::testutils::{build_test_database, write_test_database, TestGeoRecord};
    use super::*;

    fn lookup() -> GeoIpLookup {
        let database = build_test_database(&[
            (
                "2.125.160.0/24",
                TestGeoRecord::new("GB", "United Kingdom", "England", "Boxford"),
            ),
            (
                "2001:db8::/32",
                TestGeoRecord::new("AT", "Austria", "Vienna", "Vienna"),
            ),
            (
                "10.1.0.0/16",
                TestGeoRecord {
                    country_code: Some("US".to_owned()),
                    ..TestGeoRecord::default()
                },
            ),
            ("10.2.0.0/16", TestGeoRecord::default()),
        ])
        .unwrap();
        GeoIpLookup::from_bytes(database).unwrap()
    }

    fn ip(ip: &str) -> IpAddr {
        ip.parse().unwrap()
    }

    #[test]
    fn looks_up_ipv4_and_ipv6() {
        let lookup = lookup();
        let geo = lookup.lookup(ip("2.125.160.216")).unwrap();
        let geo = to_json(&Annotated(geo, Default::default())).unwrap();
        assert_eq!(
            geo,
            json!({"country_code": "GB", "city": "Boxford", "subdivision": "England",
                "region": "United Kingdom"})
        );
        let geo = lookup.lookup(ip("2001:db8:1::5")).unwrap();
        assert_eq!(
            to_json(&Annotated(geo, Default::default())).unwrap(),
            json!({"country_code": "AT", "city": "Vienna", "subdivision": "Vienna",
                "region": "Austria"})
        );
        // Partial records give partial locations.
        let geo = lookup.lookup(ip("10.1.2.3")).unwrap();
        assert_eq!(
            to_json(&Annotated(geo, Default::default())).unwrap(),
            json!({"country_code": "US"})
        );
    }

    #[test]
    fn missing_entries_are_none() {
        let lookup = lookup();
        for address in ["2.125.161.1", "127.0.0.1", "::1", "2001:db9::1", "10.2.0.1"] {
            assert_eq!(lookup.lookup(ip(address)).unwrap(), None, "{address}");
        }
    }

    fn normalize(input: serde_json::Value, client_ip: Option<&str>) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        let lookup = lookup();
        if let Some(event) = event.value_mut() {
            normalize_user_geo(event, &lookup, client_ip.map(ip));
        }
        to_json(&event).unwrap()
    }

    #[test]
    fn fills_user_geo_from_the_user_ip() {
        assert_eq!(
            normalize(
                json!({"user": {"ip_address": "2.125.160.216"}}),
                Some("2001:db8::1")
            ),
            json!({"user": {"ip_address": "2.125.160.216", "geo": {"country_code": "GB",
                "city": "Boxford", "subdivision": "England", "region": "United Kingdom"}}})
        );
    }

    #[test]
    fn falls_back_to_the_client_ip() {
        let expected = json!({"country_code": "AT", "city": "Vienna", "subdivision": "Vienna",
            "region": "Austria"});
        // No user: one is created.
        assert_eq!(
            normalize(json!({}), Some("2001:db8::1")),
            json!({"user": {"geo": expected}})
        );
        // `{{auto}}` is not an address.
        assert_eq!(
            normalize(
                json!({"user": {"ip_address": "{{auto}}"}}),
                Some("2001:db8::1")
            ),
            json!({"user": {"ip_address": "{{auto}}", "geo": expected}})
        );
        // Neither: nothing, and no user is created.
        assert_eq!(normalize(json!({}), None), json!({}));
        assert_eq!(normalize(json!({}), Some("127.0.0.1")), json!({}));
    }

    #[test]
    fn keeps_an_existing_geo() {
        let input = json!({"user": {"ip_address": "2.125.160.216", "geo": {"city": "Mine"}}});
        assert_eq!(normalize(input.clone(), None), input);
    }

    #[test]
    fn opening_errors_say_what_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mmdb");
        let error = GeoIpLookup::open(&missing).unwrap_err();
        assert!(matches!(error, GeoIpError::NotFound { .. }));
        assert!(error.to_string().contains("does not exist"), "{error}");

        let not_a_database = dir.path().join("text.mmdb");
        std::fs::write(&not_a_database, "hello").unwrap();
        let error = GeoIpLookup::open(&not_a_database).unwrap_err();
        assert!(matches!(error, GeoIpError::InvalidDatabase { .. }));
        assert!(error.to_string().contains("is not a MaxMind DB"), "{error}");

        let error = GeoIpLookup::open(dir.path()).unwrap_err();
        assert!(matches!(error, GeoIpError::Unreadable { .. }), "{error}");

        let database = dir.path().join("test.mmdb");
        write_test_database(
            &database,
            &[(
                "1.2.3.4",
                TestGeoRecord::new("AT", "Austria", "Vienna", "Vienna"),
            )],
        )
        .unwrap();
        let lookup = GeoIpLookup::open(&database).unwrap();
        assert!(lookup.lookup(ip("1.2.3.4")).unwrap().is_some());
        assert!(lookup.lookup(ip("1.2.3.5")).unwrap().is_none());
    }

    #[test]
    fn the_python_script_writes_the_same_bytes() {
        // scripts/make-test-geoip.py serves the integration tests; it must agree with this
        // writer. Skipped where there is no python3.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("py.mmdb");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/make-test-geoip.py");
        let status = std::process::Command::new("python3")
            .arg(script)
            .arg(&out)
            .args([
                "2.125.160.0/24=GB,United Kingdom,England,Boxford",
                "2001:db8::/32=AT,Austria,Vienna,Vienna",
                "10.1.0.0/16=US,,,",
                "10.1.2.0/24=,,,Inner",
            ])
            .status();
        let Ok(status) = status else {
            eprintln!("python3 not found: skipped");
            return;
        };
        assert!(status.success());
        let expected = build_test_database(&[
            (
                "2.125.160.0/24",
                TestGeoRecord::new("GB", "United Kingdom", "England", "Boxford"),
            ),
            (
                "2001:db8::/32",
                TestGeoRecord::new("AT", "Austria", "Vienna", "Vienna"),
            ),
            ("10.1.0.0/16", TestGeoRecord::new("US", "", "", "")),
            ("10.1.2.0/24", TestGeoRecord::new("", "", "", "Inner")),
        ])
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), expected);
    }

    #[test]
    fn nested_networks_split_the_outer_one() {
        let database = build_test_database(&[
            (
                "10.0.0.0/8",
                TestGeoRecord::new("US", "United States", "", "Outer"),
            ),
            (
                "10.1.0.0/16",
                TestGeoRecord::new("US", "United States", "", "Inner"),
            ),
        ])
        .unwrap();
        let lookup = GeoIpLookup::from_bytes(database).unwrap();
        let city = |address: &str| {
            lookup
                .lookup(ip(address))
                .unwrap()
                .and_then(|geo| geo.city.value().cloned())
        };
        assert_eq!(city("10.1.2.3").as_deref(), Some("Inner"));
        assert_eq!(city("10.2.2.3").as_deref(), Some("Outer"));
        assert_eq!(city("10.0.0.1").as_deref(), Some("Outer"));
    }
}
