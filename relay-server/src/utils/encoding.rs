//! Content encodings: compressing bodies for the upstream (`http.encoding`) and decoding
//! request bodies (http-api.md §1.1) with a hard cap on the decoded size, so a small
//! compression bomb cannot make relay allocate more than the route allows.

use std::io::{self, Read, Write};

use relay_config::HttpEncoding;

/// The value relay sends in `Accept-Encoding` with a 415 answer.
pub const SUPPORTED_ENCODINGS: &str = "zstd,gzip,deflate,br";

/// zstd level for outgoing bodies: fast, still a large ratio on JSON.
const ZSTD_LEVEL: i32 = 1;
/// Brotli quality for outgoing bodies.
const BROTLI_QUALITY: u32 = 1;
/// Brotli window size (log2).
const BROTLI_WINDOW: u32 = 22;
/// Buffer size for brotli streams.
const BROTLI_BUFFER_SIZE: usize = 4096;

/// A request body encoding relay can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEncoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl RequestEncoding {
    /// Parses a `Content-Encoding` value; `None` for unsupported encodings. Empty and
    /// `utf-8` count as identity (some SDKs send them).
    pub fn parse(value: &str) -> Option<RequestEncoding> {
        let value = value.trim();
        if value.is_empty()
            || value.eq_ignore_ascii_case("identity")
            || value.eq_ignore_ascii_case("utf-8")
        {
            return Some(RequestEncoding::Identity);
        }
        if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            return Some(RequestEncoding::Gzip);
        }
        if value.eq_ignore_ascii_case("deflate") {
            return Some(RequestEncoding::Deflate);
        }
        if value.eq_ignore_ascii_case("br") {
            return Some(RequestEncoding::Brotli);
        }
        if value.eq_ignore_ascii_case("zstd") {
            return Some(RequestEncoding::Zstd);
        }
        None
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("length limit exceeded")]
    TooLarge,
    #[error("{0}")]
    Corrupt(io::Error),
}

/// Decodes `body`, failing once the output would exceed `limit` bytes.
pub fn decode_body(
    encoding: RequestEncoding,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    match encoding {
        RequestEncoding::Identity => {
            if body.len() > limit {
                return Err(DecodeError::TooLarge);
            }
            Ok(body.to_vec())
        }
        RequestEncoding::Gzip => read_limited(flate2::read::MultiGzDecoder::new(body), limit),
        RequestEncoding::Deflate => read_limited(flate2::read::ZlibDecoder::new(body), limit),
        RequestEncoding::Brotli => {
            read_limited(brotli::Decompressor::new(body, BROTLI_BUFFER_SIZE), limit)
        }
        RequestEncoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(body).map_err(DecodeError::Corrupt)?;
            read_limited(decoder, limit)
        }
    }
}

fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut output = Vec::new();
    // Read one byte past the limit to detect overflow without trusting any header.
    let mut limited = reader.take(limit as u64 + 1);
    limited
        .read_to_end(&mut output)
        .map_err(DecodeError::Corrupt)?;
    if output.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(output)
}

/// Inflates a raw zlib stream (legacy store bodies), capped at `limit`.
pub fn inflate_zlib(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    read_limited(flate2::read::ZlibDecoder::new(body), limit)
}

/// Compresses an outgoing body per `http.encoding`.
pub fn encode_body(encoding: HttpEncoding, body: &[u8]) -> io::Result<Vec<u8>> {
    match encoding {
        HttpEncoding::Identity => Ok(body.to_vec()),
        HttpEncoding::Zstd => compress_zstd(body),
        HttpEncoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(body)?;
            encoder.finish()
        }
        HttpEncoding::Deflate => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(body)?;
            encoder.finish()
        }
        HttpEncoding::Br => {
            let mut output = Vec::new();
            {
                let mut encoder = brotli::CompressorWriter::new(
                    &mut output,
                    BROTLI_BUFFER_SIZE,
                    BROTLI_QUALITY,
                    BROTLI_WINDOW,
                );
                encoder.write_all(body)?;
            }
            Ok(output)
        }
    }
}

thread_local! {
    /// Creating a zstd context allocates its tables; reusing one per thread keeps
    /// compression of small envelopes cheap.
    static ZSTD_COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn compress_zstd(body: &[u8]) -> io::Result<Vec<u8>> {
    ZSTD_COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(body),
            None => zstd::bulk::compress(body, ZSTD_LEVEL),
        }
    })
}

/// The `Content-Encoding` header value for `encoding`, `None` for identity.
pub fn content_encoding_name(encoding: HttpEncoding) -> Option<&'static str> {
    match encoding {
        HttpEncoding::Identity => None,
        HttpEncoding::Zstd => Some("zstd"),
        HttpEncoding::Gzip => Some("gzip"),
        HttpEncoding::Deflate => Some("deflate"),
        HttpEncoding::Br => Some("br"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(http: HttpEncoding, request: RequestEncoding) {
        let body = b"{\"message\":\"hello hello hello hello\"}".repeat(20);
        let encoded = encode_body(http, &body).unwrap();
        let decoded = decode_body(request, &encoded, body.len()).unwrap();
        assert_eq!(decoded, body);
        assert!(matches!(
            decode_body(request, &encoded, body.len() - 1),
            Err(DecodeError::TooLarge)
        ));
    }

    #[test]
    fn every_encoding_round_trips_with_limits() {
        round_trip(HttpEncoding::Zstd, RequestEncoding::Zstd);
        round_trip(HttpEncoding::Gzip, RequestEncoding::Gzip);
        round_trip(HttpEncoding::Deflate, RequestEncoding::Deflate);
        round_trip(HttpEncoding::Br, RequestEncoding::Brotli);
        round_trip(HttpEncoding::Identity, RequestEncoding::Identity);
    }

    #[test]
    fn parses_encoding_names() {
        assert_eq!(
            RequestEncoding::parse("UTF-8"),
            Some(RequestEncoding::Identity)
        );
        assert_eq!(RequestEncoding::parse(""), Some(RequestEncoding::Identity));
        assert_eq!(RequestEncoding::parse("GZIP"), Some(RequestEncoding::Gzip));
        assert_eq!(RequestEncoding::parse("compress"), None);
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        assert!(matches!(
            decode_body(RequestEncoding::Gzip, b"\x1f\x8b\x08garbage", 100),
            Err(DecodeError::Corrupt(_))
        ));
    }
}
