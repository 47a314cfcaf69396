//! Request (normalization.md §7.9, §7 step 24).
//!
//! * `method` is upper-cased; one that is not 3–32 characters of `A-Z`, `-` and `_` is
//!   removed with `invalid_data` (no reason), the upper-cased text kept as the original.
//! * `url`: a trailing `…` becomes `...`. A URL that parses is written in its normalized form
//!   without query and fragment; its decoded query pairs fill an unset `query_string` and its
//!   non-empty fragment an unset `fragment`. Otherwise the text after the first `#` (a
//!   non-empty one fills an unset `fragment`) and then after the first `?` (parsed as a query,
//!   filling an unset `query_string`) are cut off.
//! * `query_string` and `cookies` are brought into the pair-list form of normalization.md §2,
//!   which relay-event keeps untyped: a query string (leading `?` optional) is url-decoded into
//!   pairs, a `Cookie`-style string split into pairs at `;` and `=` (names and values
//!   trimmed), an object becomes pairs sorted by key. Query values are JSON-lenient strings.
//!   A cookie string with a part lacking `=` keeps the pairs before it and gets `invalid_data`
//!   `the cookie is missing a name/value pair`, the string kept as the original. Cookie names
//!   and values must be strings (else `null` with `expected a string`), list elements pairs
//!   (else `expected a tuple`), and any other cookies value is `expected cookies` (as
//!   Sentry's normalizer).
//! * `data`: a string that parses as JSON becomes the parsed value with
//!   `inferred_content_type` `application/json`; an ASCII string not starting with `<?xml`, `{`
//!   or `[` that url-decodes into more than one pair, or one pair whose value is neither empty
//!   nor `=`, becomes the decoded object with `application/x-www-form-urlencoded`; otherwise
//!   `inferred_content_type` is the `Content-Type` header up to its first `;` (untrimmed).
//! * Cookies: with `cookies` set the `Cookie` header is removed; otherwise a parseable `Cookie`
//!   header is moved into `cookies`. A header list left empty is removed (`StoreNormalizer`
//!   0.10.1 writes no `headers` then).
//! * The `response` context (§7.10) gets the same `cookies`, `data` and cookie-header rules,
//!   with `Set-Cookie` as its cookie header and without form parsing of `data` (as
//!   `StoreNormalizer` 0.10.1 does: `"a=1&b=2"` stays a string).
//!
//! Renormalizing skips this step (normalization.md §3), so the pair-list forms are only
//! produced on full normalization.

use relay_event::schema::contexts::ResponseContext;
use relay_event::schema::{Event, Headers, Request};
use relay_event::{from_json, invalid_type, Annotated, Error, ErrorKind, Object, Value};

/// Name/value pairs.
pub type Pairs = Vec<(String, String)>;

/// The reason of a cookie string that does not parse.
const COOKIE_ERROR: &str = "the cookie is missing a name/value pair";

fn string_pair(key: String, value: Annotated<Value>) -> Annotated<Value> {
    Annotated::new(Value::Array(vec![
        Annotated::new(Value::String(key)),
        value,
    ]))
}

fn pairs(items: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|(k, v)| string_pair(k, Annotated::new(Value::String(v))))
            .collect(),
    )
}

/// The url-decoded pairs of a query string (a leading `?` is skipped).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The pairs of a `Cookie`-style string; `Err` with the pairs before the first part without
/// `=` (or with an empty name).
pub fn parse_cookies(text: &str) -> Result<Pairs, Pairs> {
    let mut pairs = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                pairs.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            _ => return Err(pairs),
        }
    }
    Ok(pairs)
}

/// A JSON-lenient string: strings as they are, anything else as compact JSON text.
fn json_lenient(value: Annotated<Value>) -> Annotated<Value> {
    match value {
        Annotated(Some(Value::String(s)), meta) => Annotated(Some(Value::String(s)), meta),
        Annotated(Some(other), meta) => {
            let text = relay_event::json::value_to_json(&other).to_string();
            Annotated(Some(Value::String(text)), meta)
        }
        none => none,
    }
}

/// An object as pairs sorted by key, values passed through `convert`.
fn object_pairs(object: Object<Value>, convert: fn(Annotated<Value>) -> Annotated<Value>) -> Value {
    Value::Array(
        object
            .into_iter()
            .map(|(k, v)| string_pair(k, convert(v)))
            .collect(),
    )
}

fn normalize_query_string(query: &mut Annotated<Value>) {
    match query.value_mut().take() {
        Some(Value::String(text)) => query.set_value(Some(pairs(parse_query(&text)))),
        Some(Value::Object(object)) => {
            query.set_value(Some(object_pairs(object, json_lenient)));
        }
        Some(Value::Array(items)) => {
            let items = items
                .into_iter()
                .map(|item| match item {
                    Annotated(Some(Value::Array(mut pair)), meta) if pair.len() == 2 => {
                        let value = json_lenient(pair.pop().unwrap_or_default());
                        pair.push(value);
                        Annotated(Some(Value::Array(pair)), meta)
                    }
                    other => other,
                })
                .collect();
            query.set_value(Some(Value::Array(items)));
        }
        other => query.set_value(other),
    }
}

fn normalize_cookies(cookies: &mut Annotated<Value>) {
    match cookies.value_mut().take() {
        Some(Value::String(text)) => match parse_cookies(&text) {
            Ok(parsed) => cookies.set_value(Some(pairs(parsed))),
            Err(parsed) => {
                cookies.set_value(Some(pairs(parsed)));
                let meta = cookies.meta_mut();
                meta.add_error(Error::invalid(COOKIE_ERROR));
                meta.set_original_value(Some(Value::String(text)));
            }
        },
        Some(Value::Object(object)) => {
            cookies.set_value(Some(object_pairs(object, cookie_text)));
        }
        Some(Value::Array(items)) => {
            let items = items.into_iter().map(cookie_pair).collect();
            cookies.set_value(Some(Value::Array(items)));
        }
        Some(other) => {
            let meta = cookies.meta_mut();
            meta.add_error(Error::expected("cookies"));
            meta.set_original_value(Some(other));
        }
        None => {}
    }
}

/// A cookie name or value: a string; anything else is `expected a string` (as Sentry).
fn cookie_text(value: Annotated<Value>) -> Annotated<Value> {
    match value {
        Annotated(Some(Value::String(text)), meta) => Annotated(Some(Value::String(text)), meta),
        Annotated(Some(other), meta) => invalid_type(other, meta, "a string"),
        none => none,
    }
}

/// An element of a cookie list: a pair of strings; anything else is `expected a tuple`.
fn cookie_pair(item: Annotated<Value>) -> Annotated<Value> {
    match item {
        Annotated(Some(Value::Array(pair)), meta) if pair.len() == 2 => {
            let pair = pair.into_iter().map(cookie_text).collect();
            Annotated(Some(Value::Array(pair)), meta)
        }
        Annotated(Some(other), meta) => invalid_type(other, meta, "a tuple"),
        none => none,
    }
}

fn is_valid_method(method: &str) -> bool {
    (3..=32).contains(&method.len())
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

fn normalize_method(method: &mut Annotated<String>) {
    let Some(text) = method.value_mut() else {
        return;
    };
    *text = text.to_uppercase();
    if !is_valid_method(text) {
        let original = method.take().map(Value::String);
        let meta = method.meta_mut();
        meta.add_error(ErrorKind::InvalidData);
        meta.set_original_value(original);
    }
}

fn set_query(request: &mut Request, query: Vec<(String, String)>) {
    if request.query_string.value().is_none() && !query.is_empty() {
        request.query_string.set_value(Some(pairs(query)));
    }
}

fn set_fragment(request: &mut Request, fragment: &str) {
    if request.fragment.value().is_none() && !fragment.is_empty() {
        request.fragment.set_value(Some(fragment.to_owned()));
    }
}

fn normalize_url(request: &mut Request) {
    let Some(mut text) = request.url.value().cloned() else {
        return;
    };
    if let Some(stripped) = text.strip_suffix('\u{2026}') {
        text = format!("{stripped}...");
    }
    match url::Url::parse(&text) {
        Ok(mut url) => {
            let query: Vec<_> = url.query_pairs().into_owned().collect();
            set_query(request, query);
            if let Some(fragment) = url.fragment() {
                set_fragment(request, fragment);
            }
            url.set_query(None);
            url.set_fragment(None);
            text = url.into();
        }
        Err(_) => {
            if let Some((rest, fragment)) = text.split_once('#') {
                set_fragment(request, fragment);
                text = rest.to_owned();
            }
            if let Some((rest, query)) = text.split_once('?') {
                if request.query_string.value().is_none() {
                    set_query(request, parse_query(query));
                }
                text = rest.to_owned();
            }
        }
    }
    request.url.set_value(Some(text));
}

/// The form-urlencoded object of `data`, if it looks like one.
fn parse_form(data: &str) -> Option<Value> {
    if !data.is_ascii() || ["<?xml", "{", "["].iter().any(|p| data.starts_with(p)) {
        return None;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data.as_bytes())
        .into_owned()
        .collect();
    let is_form = match pairs.as_slice() {
        [] => false,
        [(_, value)] => !value.is_empty() && value != "=",
        _ => true,
    };
    is_form.then(|| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Annotated::new(Value::String(v))))
                .collect(),
        )
    })
}

fn content_type_header(headers: &Annotated<Headers>) -> Option<String> {
    let content_type = headers.value()?.get_header("Content-Type")?;
    Some(
        content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The body of a request or response: a string that parses as JSON is replaced by the parsed
/// value (`application/json`); for requests only, a form-urlencoded string by its object;
/// otherwise the content type comes from the `Content-Type` header.
fn normalize_body(
    data: &mut Annotated<Value>,
    inferred_content_type: &mut Annotated<String>,
    headers: &Annotated<Headers>,
    parses_forms: bool,
) {
    let text = match data.value() {
        Some(Value::String(text)) => Some(text.clone()),
        _ => None,
    };
    if let Some(text) = text {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
            *data = from_json(json);
            *inferred_content_type = Annotated::new("application/json".to_owned());
            return;
        }
        if let Some(form) = parses_forms.then(|| parse_form(&text)).flatten() {
            data.set_value(Some(form));
            *inferred_content_type = Annotated::new("application/x-www-form-urlencoded".to_owned());
            return;
        }
    }
    if let Some(content_type) = content_type_header(headers) {
        *inferred_content_type = Annotated::new(content_type);
    }
}

/// Moves a parseable cookie header (`Cookie` of requests, `Set-Cookie` of responses) into
/// `cookies`; when `cookies` is already set, the header is only removed.
fn move_cookie_header(
    headers_slot: &mut Annotated<Headers>,
    cookies: &mut Annotated<Value>,
    header_name: &str,
) {
    let Some(headers) = headers_slot.value_mut() else {
        return;
    };
    let is_cookie_header = |header: &Annotated<relay_event::schema::Header>| {
        header
            .value()
            .and_then(|h| h.0.value())
            .is_some_and(|name| name.as_str().eq_ignore_ascii_case(header_name))
    };
    let Some(index) = headers.iter().position(is_cookie_header) else {
        return;
    };
    if cookies.value().is_some() {
        headers.remove(index);
    } else {
        let header_value = headers[index]
            .value()
            .and_then(|h| h.1.value())
            .map(|v| v.as_str().to_owned());
        if let Some(Ok(parsed)) = header_value.as_deref().map(parse_cookies) {
            headers.remove(index);
            cookies.set_value(Some(pairs(parsed)));
        }
    }
    // An emptied header list is not written (like an empty pair list sent by the client).
    if headers.is_empty() {
        headers_slot.set_value(None);
    }
}

/// §7.9 on one request.
pub fn normalize_request_value(request: &mut Request) {
    normalize_method(&mut request.method);
    normalize_url(request);
    normalize_query_string(&mut request.query_string);
    normalize_cookies(&mut request.cookies);
    normalize_body(
        &mut request.data,
        &mut request.inferred_content_type,
        &request.headers,
        true,
    );
    move_cookie_header(&mut request.headers, &mut request.cookies, "Cookie");
}

/// §7.10 for the `response` context: the body like a request's but without form parsing,
/// cookies in pair-list form, and a `Set-Cookie` header moved into `cookies`.
pub fn normalize_response(response: &mut ResponseContext) {
    normalize_cookies(&mut response.cookies);
    normalize_body(
        &mut response.data,
        &mut response.inferred_content_type,
        &response.headers,
        false,
    );
    move_cookie_header(&mut response.headers, &mut response.cookies, "Set-Cookie");
}

/// Step 24: the event's request.
pub fn normalize_request(event: &mut Event) {
    if let Some(request) = event.request.value_mut() {
        normalize_request_value(request);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::to_json;
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(json!({"request": input}));
        if let Some(event) = event.value_mut() {
            normalize_request(event);
        }
        to_json(&event).unwrap_or_default()
    }

    fn response(input: serde_json::Value) -> serde_json::Value {
        let mut response: Annotated<ResponseContext> = relay_event::from_json(input);
        if let Some(response) = response.value_mut() {
            normalize_response(response);
        }
        to_json(&response).unwrap_or_default()
    }

    /// Outputs of `StoreNormalizer` 0.10.1 for a `response` context.
    #[test]
    fn response_context_like_sentry() {
        assert_eq!(
            response(json!({"status_code": 500, "data": "{\"x\":1}",
                "headers": {"Set-Cookie": "a=1; Path=/", "Content-Type": "text/plain"}})),
            json!({"status_code": 500, "data": {"x": 1}, "inferred_content_type": "application/json",
                "cookies": [["a", "1"], ["Path", "/"]], "headers": [["Content-Type", "text/plain"]]})
        );
        // No form parsing; the content type from the header; a cookie string becomes pairs.
        assert_eq!(
            response(json!({"data": "a=1&b=2", "cookies": "c=3",
                "headers": [["Content-Type", "application/x-www-form-urlencoded"]]})),
            json!({"data": "a=1&b=2", "cookies": [["c", "3"]],
                "headers": [["Content-Type", "application/x-www-form-urlencoded"]],
                "inferred_content_type": "application/x-www-form-urlencoded"})
        );
        // Cookies already set: the header is only removed; an unparseable one stays.
        assert_eq!(
            response(json!({"cookies": {"x": "1"}, "headers": {"Set-Cookie": "a=1"}})),
            json!({"cookies": [["x", "1"]]})
        );
        assert_eq!(
            response(json!({"headers": {"Set-Cookie": "bad"}})),
            json!({"headers": [["Set-Cookie", "bad"]]})
        );
        // The request's `Cookie` header is not a response cookie header.
        assert_eq!(
            response(json!({"headers": {"set-cookie": "a=1; b=2", "Cookie": "c=3"}})),
            json!({"cookies": [["a", "1"], ["b", "2"]], "headers": [["Cookie", "c=3"]]})
        );
    }

    #[test]
    fn verified_example_with_parseable_url() {
        // §7.9 verified example.
        assert_eq!(
            run(
                json!({"url": "https://example.com/path?a=1&b=2#frag", "method": "post",
                "headers": {"Cookie": "a=1; b=2", "Content-Type": "text/plain; charset=utf-8"},
                "data": "{\"x\": 1}"})
            ),
            json!({"request": {"url": "https://example.com/path", "method": "POST",
                "data": {"x": 1}, "query_string": [["a", "1"], ["b", "2"]], "fragment": "frag",
                "cookies": [["a", "1"], ["b", "2"]],
                "headers": [["Content-Type", "text/plain; charset=utf-8"]],
                "inferred_content_type": "application/json"}})
        );
    }

    #[test]
    fn verified_example_with_unparseable_url() {
        // §7.9 verified example.
        assert_eq!(
            run(json!({"url": "not a url?x=y#f", "method": "get", "data": "a=1&b=2"})),
            json!({"request": {"url": "not a url", "method": "GET",
                "data": {"a": "1", "b": "2"}, "query_string": [["x", "y"]], "fragment": "f",
                "inferred_content_type": "application/x-www-form-urlencoded"}})
        );
    }

    #[test]
    fn cookies_of_the_wrong_type() {
        // StoreNormalizer 0.10.1.
        let expected = |reason: &str| json!([["invalid_data", {"reason": reason}]]);
        let output = run(json!({"cookies": 3}));
        assert_eq!(
            output["_meta"]["request"]["cookies"][""],
            json!({"err": expected("expected cookies"), "val": 3})
        );
        let output = run(json!({"cookies": {"a": 1, "b": "2"}}));
        assert_eq!(
            output["request"]["cookies"],
            json!([["a", null], ["b", "2"]])
        );
        assert_eq!(
            output["_meta"]["request"]["cookies"]["0"]["1"][""],
            json!({"err": expected("expected a string"), "val": 1})
        );
        let output = run(json!({"cookies": [1, ["c", "d"]]}));
        assert_eq!(output["request"]["cookies"], json!([null, ["c", "d"]]));
        assert_eq!(
            output["_meta"]["request"]["cookies"]["0"][""],
            json!({"err": expected("expected a tuple"), "val": 1})
        );
    }

    #[test]
    fn invalid_method_and_cookie_string() {
        assert_eq!(
            run(json!({"method": "get x", "url": "https://example.com#",
                "query_string": "?a=1&b=%20c+d&a=2", "cookies": "x=1; y = 2 ;z"})),
            json!({"request": {"url": "https://example.com/", "method": null,
                "query_string": [["a", "1"], ["b", " c d"], ["a", "2"]],
                "cookies": [["x", "1"], ["y", "2"]]},
                "_meta": {"request": {
                    "method": {"": {"err": ["invalid_data"], "val": "GET X"}},
                    "cookies": {"": {"err": [["invalid_data", {"reason": COOKIE_ERROR}]],
                        "val": "x=1; y = 2 ;z"}}}}})
        );
    }

    #[test]
    fn objects_become_sorted_pairs_and_content_type_comes_from_the_header() {
        assert_eq!(
            run(
                json!({"query_string": {"b": 1, "a": "x"}, "cookies": {"b": "1", "a": "2"},
                "data": "hello", "headers": {"Content-Type": "text/plain ; x"}})
            ),
            json!({"request": {"data": "hello", "query_string": [["a", "x"], ["b", "1"]],
                "cookies": [["a", "2"], ["b", "1"]],
                "headers": [["Content-Type", "text/plain ; x"]],
                "inferred_content_type": "text/plain "}})
        );
        // An empty query, a one-pair body with an empty value, an existing cookie list.
        assert_eq!(
            run(
                json!({"url": "https://ex.com/a?", "data": "a=", "cookies": [["c", "d"]],
                "headers": [["Cookie", "x=y"]]})
            ),
            json!({"request": {"url": "https://ex.com/a", "data": "a=",
                "cookies": [["c", "d"]]}})
        );
    }

    #[test]
    fn ellipsis_and_existing_query_and_fragment() {
        assert_eq!(
            run(
                json!({"url": "https://ex.com/a?b=1#c\u{2026}", "query_string": "z=1",
                "fragment": "keep"})
            ),
            json!({"request": {"url": "https://ex.com/a", "query_string": [["z", "1"]],
                "fragment": "keep"}})
        );
        assert!(is_valid_method("OPTIONS"));
        assert!(!is_valid_method("GE"));
        assert!(!is_valid_method(&"A".repeat(33)));
    }
}
