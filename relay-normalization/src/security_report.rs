//! The request headers of security reports (normalization.md §7 step 3): a browser sends CSP
//! reports itself, so the submitting request's `User-Agent` and client hints describe the
//! browser that saw the violation; they are recorded in the event's request headers.
//!
//! Only for events with a `csp` body (not the retired `hpkp`, `expectct`, `expectstaple`
//! interfaces: StoreNormalizer 0.10.1 adds nothing to those). Each configured header is appended, in the
//! order `User-Agent`, `SEC-CH-UA-Platform`, `SEC-CH-UA-Platform-Version`, `SEC-CH-UA`,
//! `SEC-CH-UA-Model`, unless a header of exactly that name exists (names were normalized at
//! parse time, so a sent `user-agent` blocks `User-Agent`, but a sent `sec-ch-ua`, now
//! `Sec-Ch-Ua`, does not block `SEC-CH-UA`). Empty values are recorded too. `request` and
//! its `headers` are created when needed, keeping the meta of invalid ones.

use relay_event::schema::{Event, Header, Headers, Request};
use relay_event::{Annotated, LenientString};

/// The headers of the request that submitted the event, as far as security reports record
/// them (normalization.md §1.1: `user_agent` and `client_hints` of `StoreNormalizer`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitterHeaders {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Sec-CH-UA-Platform`.
    pub sec_ch_ua_platform: Option<String>,
    /// `Sec-CH-UA-Platform-Version`.
    pub sec_ch_ua_platform_version: Option<String>,
    /// `Sec-CH-UA`.
    pub sec_ch_ua: Option<String>,
    /// `Sec-CH-UA-Model`.
    pub sec_ch_ua_model: Option<String>,
}

/// Step 3 (the header part).
pub fn normalize_security_report_headers(event: &mut Event, headers: Option<&SubmitterHeaders>) {
    let Some(submitter) = headers else {
        return;
    };
    if event.csp.value().is_none() {
        return;
    }
    let values = [
        ("User-Agent", &submitter.user_agent),
        ("SEC-CH-UA-Platform", &submitter.sec_ch_ua_platform),
        (
            "SEC-CH-UA-Platform-Version",
            &submitter.sec_ch_ua_platform_version,
        ),
        ("SEC-CH-UA", &submitter.sec_ch_ua),
        ("SEC-CH-UA-Model", &submitter.sec_ch_ua_model),
    ];
    if values.iter().all(|(_, value)| value.is_none()) {
        return;
    }
    let request = event.request.get_or_insert_with(Request::default);
    let headers = request.headers.get_or_insert_with(Headers::default);
    for (name, value) in values {
        let Some(value) = value else {
            continue;
        };
        let exists = headers.iter().any(|header| {
            header
                .value()
                .and_then(|header| header.0.value())
                .is_some_and(|key| key.as_str() == name)
        });
        if !exists {
            headers.push(Annotated::new(Header(
                Annotated::new(LenientString(name.to_owned())),
                Annotated::new(LenientString(value.clone())),
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value, headers: &SubmitterHeaders) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_security_report_headers(event, Some(headers));
        }
        to_json(&event).unwrap()
    }

    fn csp() -> serde_json::Value {
        json!({"csp": {"effective_directive": "script-src"}})
    }

    fn ua(user_agent: &str) -> SubmitterHeaders {
        SubmitterHeaders {
            user_agent: Some(user_agent.to_owned()),
            ..SubmitterHeaders::default()
        }
    }

    #[test]
    fn all_headers_in_order() {
        // StoreNormalizer 0.10.1 with `user_agent` and all four `client_hints`.
        let headers = SubmitterHeaders {
            user_agent: Some("Mozilla/5.0 UA".to_owned()),
            sec_ch_ua_platform: Some("\"macOS\"".to_owned()),
            sec_ch_ua_platform_version: Some("\"13.0\"".to_owned()),
            sec_ch_ua: Some("\"Chromium\";v=\"110\"".to_owned()),
            sec_ch_ua_model: Some("\"\"".to_owned()),
        };
        assert_eq!(
            run(csp(), &headers)["request"],
            json!({"headers": [["User-Agent", "Mozilla/5.0 UA"],
                ["SEC-CH-UA-Platform", "\"macOS\""], ["SEC-CH-UA-Platform-Version", "\"13.0\""],
                ["SEC-CH-UA", "\"Chromium\";v=\"110\""], ["SEC-CH-UA-Model", "\"\""]]})
        );
        assert_eq!(
            run(csp(), &ua(""))["request"],
            json!({"headers": [["User-Agent", ""]]})
        );
    }

    #[test]
    fn existing_names_match_exactly_after_parsing() {
        let mut input = csp();
        input["request"] = json!({"headers": [["user-agent", "Mine"], ["sec-ch-ua", "m"],
            ["USER-AGENT", "x"]]});
        let headers = SubmitterHeaders {
            sec_ch_ua: Some("C".to_owned()),
            ..ua("UA")
        };
        assert_eq!(
            run(input, &headers)["request"],
            json!({"headers": [["User-Agent", "Mine"], ["Sec-Ch-Ua", "m"], ["USER-AGENT", "x"],
                ["SEC-CH-UA", "C"]]})
        );
        let mut input = csp();
        input["request"] = json!({"headers": [["User-Agent", null]]});
        assert_eq!(
            run(input, &ua("UA"))["request"],
            json!({"headers": [["User-Agent", null]]})
        );
    }

    #[test]
    fn only_csp_reports() {
        for body in ["hpkp", "expectct"] {
            let input = json!({body: {"hostname": "x.com"}});
            assert_eq!(run(input, &ua("UA")).get("request"), None);
        }
        assert_eq!(run(json!({}), &ua("UA")).get("request"), None);
        let mut event: Annotated<Event> = from_json(csp());
        if let Some(event) = event.value_mut() {
            normalize_security_report_headers(event, None);
        }
        assert_eq!(to_json(&event).unwrap(), csp());
    }

    #[test]
    fn invalid_request_keeps_its_error() {
        let mut input = csp();
        input["request"] = json!("bad");
        let output = run(input, &ua("UA"));
        assert_eq!(
            output["request"],
            json!({"headers": [["User-Agent", "UA"]]})
        );
        // The parse error itself is relay-event's (its reason differs from Sentry's
        // `expected request`); it stays with the original value.
        assert_eq!(output["_meta"]["request"][""]["val"], json!("bad"));
        assert_eq!(
            output["_meta"]["request"][""]["err"][0][0],
            json!("invalid_data")
        );
    }
}
