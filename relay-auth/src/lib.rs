//! Relay identities and the signature scheme of the relay protocol.
//!
//! This crate is pure: it performs no I/O. It defines
//!
//! * the identity of a relay: a [`RelayId`] plus an Ed25519 key pair ([`SecretKey`],
//!   [`PublicKey`]) in the text forms used by `credentials.json` and the registration endpoints
//!   (`relay-protocol.md` §1),
//! * request signatures carried in `X-Sentry-Relay-Signature` ([`Signature`],
//!   [`SignatureHeader`], [`PublicKey::verify`], `relay-protocol.md` §2),
//! * the JSON bodies of the two-step registration handshake ([`RegisterRequest`],
//!   [`RegisterChallenge`], [`RegisterResponse`], [`Registration`], `relay-protocol.md` §3).

#![warn(missing_docs)]

mod keys;
mod registration;
mod signature;

pub use keys::{generate_key_pair, KeyParseError, PublicKey, RelayId, SecretKey};
pub use registration::{
    RegisterChallenge, RegisterRequest, RegisterResponse, Registration, RelayVersion,
    RelayVersionParseError,
};
pub use signature::{
    Signature, SignatureAlgorithm, SignatureError, SignatureHeader, MAX_FUTURE_SKEW,
};
