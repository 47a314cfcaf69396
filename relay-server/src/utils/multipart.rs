//! Multipart bodies of the minidump and attachment endpoints (http-api.md §4.5, §4.6), and
//! the `form_data` item encoding (envelope.md §4.2).

use bytes::Bytes;

/// One part of a multipart body.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub data: Bytes,
}

impl Part {
    /// File parts become attachments; the others form data.
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }
}

/// Why a multipart body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error("missing or invalid multipart boundary")]
    Boundary,
    #[error("{0}")]
    Malformed(String),
}

/// Splits an already buffered multipart body into its parts.
pub async fn parse_multipart(content_type: &str, body: Bytes) -> Result<Vec<Part>, MultipartError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| MultipartError::Boundary)?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(MultipartError::Malformed(error.to_string())),
        };
        let name = field.name().map(str::to_owned);
        let filename = field.file_name().map(str::to_owned);
        let data = field
            .bytes()
            .await
            .map_err(|error| MultipartError::Malformed(error.to_string()))?;
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
    Ok(parts)
}

/// Encodes form fields as a `form_data` payload: `u32le(len) key u32le(len) value` each.
pub fn encode_form_data<'a>(fields: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut output = Vec::new();
    for (key, value) in fields {
        let value = String::from_utf8_lossy(value);
        for bytes in [key.as_bytes(), value.as_bytes()] {
            let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            output.extend_from_slice(&length.to_le_bytes());
            output.extend_from_slice(&bytes[..length as usize]);
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_files_and_fields() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"sentry[release]\"\r\n\r\n1.0\r\n--XX\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"crash.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\nMDMPdata\r\n--XX--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XX", Bytes::from(body))
            .await
            .unwrap();
        assert_eq!(parts.len(), 2);
        assert!(!parts[0].is_file());
        assert_eq!(parts[1].filename.as_deref(), Some("crash.dmp"));
        assert_eq!(&parts[1].data[..], b"MDMPdata");
    }

    #[tokio::test]
    async fn bad_boundary_is_an_error() {
        assert!(matches!(
            parse_multipart("multipart/form-data", Bytes::new()).await,
            Err(MultipartError::Boundary)
        ));
    }

    #[test]
    fn form_data_encoding() {
        let encoded = encode_form_data([("a", &b"xy"[..])]);
        assert_eq!(encoded, b"\x01\x00\x00\x00a\x02\x00\x00\x00xy".to_vec());
    }
}
