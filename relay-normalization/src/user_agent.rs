//! User agent → contexts (normalization.md §7 step 17), only with
//! [`crate::NormalizationConfig::normalize_user_agent`].
//!
//! Source: the event's own `request.headers` (`User-Agent`, `Sec-CH-UA`, `Sec-CH-UA-Model`,
//! `Sec-CH-UA-Platform`, `Sec-CH-UA-Platform-Version`; names compared case-insensitively, the
//! last header of a name wins, client-hint values are trimmed and then lose their quotes, the
//! user agent is used as sent; all as observed on `StoreNormalizer` 0.10.1). Each of the three
//! contexts is filled independently, client hints before the user agent:
//!
//! * `browser`, when `contexts.browser` is not a browser context (missing, `null`, invalid or
//!   of another type; replaced with its meta);
//! * `device`, likewise for `contexts.device`;
//! * `os` when `platform` is `javascript`, else `client_os`, only when that key is absent
//!   altogether (a `null` or foreign entry is kept).
//!
//! The contexts get name/version (device: family/model/brand) only; their descriptions
//! (`browser.browser`, `os.os`) are written by the context step (§7.10) that runs later.
//!
//! # Parser
//!
//! User agents are parsed with the uap-core regexes (release 0.18.0, the latest release; the
//! reference build embeds a slightly newer snapshot, see below) through the [`ua_parser`]
//! crate 0.2 (<https://crates.io/crates/ua-parser>). Chosen over the alternatives because it
//! is the implementation of the ua-parser project itself (the maintainers of uap-core,
//! <https://github.com/ua-parser/uap-rust>), released for the current uap-core, and fast: it
//! prefilters the ~1 000 regexes with a literal-atom set (`regex-filtered`) so only the few
//! candidates whose literals occur in the string are run, and it rewrites `\d`/`\w` to ASCII
//! classes; `\s` and `\b` are made ASCII here (`ascii_classes`), which together gives the
//! "Unicode off" semantics of the reference (except for the case folding of `(?i)` rules).
//! `uaparser` 0.6 (uap-rs) ships the older uap-core 0.15 regexes and tries every regex in
//! order; `uap-rs` is an empty placeholder. Neither crate embeds the regexes into its library:
//! `ua-parser` deliberately ships the data only as a file of its package. That file, uap-core
//! 0.18.0's `regexes.yaml` (Apache-2.0, `data/uap-core/LICENSE`), is vendored verbatim in
//! `data/uap-core/` and embedded with `include_str!`, so updating is a file copy; it is read
//! with `serde_yaml`, which the workspace already uses.
//!
//! # Cost
//!
//! Compiling the extractor takes about a second and ~80 MB (release build; most of it for
//! the bounded repetitions, see `keep_bounded`), so it is built once, lazily, on the first
//! event that needs it ([`LazyLock`]), or up front with [`prepare`]. Per event, nothing is parsed when the step has nothing
//! to fill (no user-agent or client-hint header, every target context already present, or
//! the client hints supply them all). A parse costs 15–50 µs, so results are cached by user
//! agent string in a bounded map (2 048 entries, user agents up to 512 bytes); a hit costs a
//! hash lookup and a few small clones. `cargo bench -p relay-normalization --bench normalize
//! -- user_agent`: the whole step 1.4 µs with a cached user agent, 17 µs uncached (desktop
//! Chrome).
//!
//! # Agreement with the oracle
//!
//! On 6 000 user agents of uap-core's test files, `StoreNormalizer` 0.10.1 gives the same
//! contexts except for 8 user agents: Sentry's build embeds a uap-core snapshot newer than
//! 0.18.0 (e.g. a rule `(Instagram) (\d+)\.(\d+)\.(\d+)` for app user agents without
//! `Mozilla`, an OculusBrowser rule without `.0.0`), which this crate does not ship.
//!
//! # Invariants
//!
//! Never overwrites a browser/device context that is present, nor any `os`/`client_os` key;
//! never panics on header content (a regex build failure only disables the user-agent part).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use relay_event::schema::contexts::{BrowserContext, DeviceContext, OsContext};
use relay_event::schema::{Context, Contexts, Event, Headers};
use relay_event::{Annotated, Meta};

use crate::security_report::SubmitterHeaders;

/// The uap-core 0.18.0 regexes, vendored verbatim.
const REGEXES_YAML: &str = include_str!("../data/uap-core/regexes.yaml");

/// The compiled extractor; `None` only if the vendored data fails to load (a test asserts it
/// does not).
static EXTRACTOR: LazyLock<Option<ua_parser::Extractor<'static>>> = LazyLock::new(|| {
    let mut regexes: ua_parser::Regexes<'static> = serde_yaml::from_str(REGEXES_YAML).ok()?;
    for parser in &mut regexes.user_agent_parsers {
        adapt_regex(&mut parser.regex);
    }
    for parser in &mut regexes.os_parsers {
        adapt_regex(&mut parser.regex);
    }
    for parser in &mut regexes.device_parsers {
        adapt_regex(&mut parser.regex);
    }
    ua_parser::Extractor::try_from(regexes).ok()
});

/// Compiles the user agent regexes now instead of on the first event that needs them (about
/// a second; a server calls it at startup). Returns whether they loaded, which the tests
/// assert; `false` would leave the step to client hints only.
pub fn prepare() -> bool {
    EXTRACTOR.is_some()
}

/// Adapts a uap-core regex so that `ua-parser` matches like uap-core with Unicode off: ASCII
/// whitespace and word boundaries, bounded repetitions kept.
fn adapt_regex(regex: &mut Cow<'static, str>) {
    if let Some(ascii) = ascii_classes(regex) {
        *regex = Cow::Owned(ascii);
    }
    keep_bounded(regex);
}

/// `\s`, `\S` and `\b` made ASCII-only, or `None` if the regex has none (uap-core has no
/// `\B`).
///
/// `ua-parser` already makes `\d` and `\w` ASCII but leaves these Unicode-aware, so e.g. a
/// no-break space matched `\s` and `é` suppressed a `\b` (StoreNormalizer 0.10.1 does
/// neither). `\b` becomes `(?-u:\b)`; `\s` / `\S` become the POSIX class `[:space:]` /
/// `[:^space:]` inside a character class and `[[:space:]]` / `[^[:space:]]` outside (the
/// same set: tab, line feed, vertical tab, form feed, carriage return, space).
fn ascii_classes(regex: &str) -> Option<String> {
    if !regex.contains(['s', 'S', 'b']) || !regex.contains('\\') {
        return None;
    }
    let mut out = String::with_capacity(regex.len() + 16);
    let mut changed = false;
    let mut class_depth = 0usize;
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    out.push(c);
                    break;
                };
                let replacement = match (escaped, class_depth > 0) {
                    ('s', false) => Some("[[:space:]]"),
                    // `(?-u:\S)` could match a lone byte, which `regex` refuses.
                    ('S', false) => Some("[^[:space:]]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('s', true) => Some("[:space:]"),
                    ('S', true) => Some("[:^space:]"),
                    _ => None,
                };
                match replacement {
                    Some(replacement) => {
                        out.push_str(replacement);
                        changed = true;
                    }
                    None => {
                        out.push(c);
                        out.push(escaped);
                    }
                }
            }
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    changed.then_some(out)
}

/// Keeps the bounded repetitions `{0,NNN}` / `{1,NNN}` (three or more digits) of a uap-core
/// regex bounded.
///
/// `ua-parser` turns them into `*` / `+` to save memory, which changes matches: the spider
/// rule `^.{0,100}(bot|…|crawl|…)` would then find `crawl` anywhere, while uap-core (and
/// Sentry's normalizer) only looks at the first 100 characters. Its rewrite skips repetitions
/// with a blank after the comma, which the `regex` crate accepts as the same bound.
fn keep_bounded(regex: &mut Cow<'static, str>) {
    let bytes = regex.as_bytes();
    let mut insert_at = Vec::new();
    for (index, window) in bytes.windows(4).enumerate() {
        if window[0] == b'{' && matches!(window[1], b'0' | b'1') && window[2] == b',' {
            let digits = bytes[index + 3..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits >= 3 && bytes.get(index + 3 + digits) == Some(&b'}') {
                insert_at.push(index + 3);
            }
        }
    }
    if insert_at.is_empty() {
        return;
    }
    let mut rewritten = String::with_capacity(regex.len() + insert_at.len());
    let mut from = 0;
    for at in insert_at {
        rewritten.push_str(&regex[from..at]);
        rewritten.push(' ');
        from = at;
    }
    rewritten.push_str(&regex[from..]);
    *regex = Cow::Owned(rewritten);
}

/// The headers step 17 reads, each the value of the last header of that name.
#[derive(Debug, Default)]
struct RawHeaders<'a> {
    user_agent: Option<&'a str>,
    sec_ch_ua: Option<&'a str>,
    sec_ch_ua_model: Option<&'a str>,
    sec_ch_ua_platform: Option<&'a str>,
    sec_ch_ua_platform_version: Option<&'a str>,
}

impl<'a> RawHeaders<'a> {
    /// Whether there is anything to derive contexts from.
    fn has_any(&self) -> bool {
        self.user_agent.is_some()
            || self.sec_ch_ua.is_some()
            || self.sec_ch_ua_model.is_some()
            || self.sec_ch_ua_platform.is_some()
    }

    fn from_headers(headers: &'a Headers) -> Self {
        let mut raw = Self::default();
        for header in headers.0.iter().filter_map(Annotated::value) {
            let (Some(name), Some(value)) = (header.0.value(), header.1.value()) else {
                continue;
            };
            let (name, value) = (name.as_str(), value.as_str());
            if name.eq_ignore_ascii_case("user-agent") {
                raw.user_agent = Some(value);
                continue;
            }
            // Client hint values are trimmed (the user agent is not), then quotes removed.
            let slot = if name.eq_ignore_ascii_case("sec-ch-ua") {
                &mut raw.sec_ch_ua
            } else if name.eq_ignore_ascii_case("sec-ch-ua-model") {
                &mut raw.sec_ch_ua_model
            } else if name.eq_ignore_ascii_case("sec-ch-ua-platform") {
                &mut raw.sec_ch_ua_platform
            } else if name.eq_ignore_ascii_case("sec-ch-ua-platform-version") {
                &mut raw.sec_ch_ua_platform_version
            } else {
                continue;
            };
            *slot = Some(value.trim());
        }
        raw
    }

    /// Browser from `Sec-CH-UA`: the first item without a placeholder brand word, if it is
    /// `"<name>";v="<version>"` with both parts non-blank.
    fn browser(&self) -> Option<BrowserContext> {
        let item = self.sec_ch_ua?.split(',').find(|item| {
            !["Brand", "Chromium", "Gecko", "WebKit"]
                .iter()
                .any(|w| item.contains(w))
        })?;
        let (name, version) = parse_brand(item)?;
        if name.trim().is_empty() || version.trim().is_empty() {
            return None;
        }
        Some(BrowserContext {
            name: Annotated::new(browser_name(name).to_owned()),
            version: Annotated::new(version.to_owned()),
            ..BrowserContext::default()
        })
    }

    /// Device from `Sec-CH-UA-Model` (quotes removed), if not empty.
    fn device(&self) -> Option<DeviceContext> {
        let model = self.sec_ch_ua_model?.replace('"', "");
        (!model.is_empty()).then(|| DeviceContext {
            model: Annotated::new(model),
            ..DeviceContext::default()
        })
    }

    /// OS from `Sec-CH-UA-Platform` (quotes removed, not empty) and the platform version.
    fn os(&self) -> Option<OsContext> {
        let name = self.sec_ch_ua_platform?.replace('"', "");
        if name.is_empty() {
            return None;
        }
        Some(OsContext {
            name: Annotated::new(name),
            version: opt(self.sec_ch_ua_platform_version.map(|v| v.replace('"', ""))),
            ..OsContext::default()
        })
    }
}

/// `"<name>";v="<version>"` anywhere in `item` (quoted parts without `"`), as the oracle
/// accepts it: no blanks around `;` or `=`, `v` lower case.
fn parse_brand(item: &str) -> Option<(&str, &str)> {
    // Try every opening quote, like an unanchored regex search.
    let mut rest = item;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        if let Some(end) = after.find('"') {
            let name = &after[..end];
            if let Some(tail) = after[end + 1..].strip_prefix(";v=\"") {
                if let Some(version_end) = tail.find('"') {
                    return Some((name, &tail[..version_end]));
                }
            }
        }
        rest = after;
    }
    None
}

/// An annotated value without meta, empty for `None`.
fn opt<T>(value: Option<T>) -> Annotated<T> {
    Annotated(value, Meta::default())
}

/// `Google Chrome` is reported as `Chrome`.
fn browser_name(name: &str) -> &str {
    if name == "Google Chrome" {
        "Chrome"
    } else {
        name
    }
}

/// `major[.minor[.patch]]`, `None` without a major version.
fn version<S: AsRef<str>>(major: Option<S>, minor: Option<S>, patch: Option<S>) -> Option<String> {
    let mut version = major?.as_ref().to_owned();
    if let Some(minor) = minor {
        version.push('.');
        version.push_str(minor.as_ref());
        if let Some(patch) = patch {
            version.push('.');
            version.push_str(patch.as_ref());
        }
    }
    Some(version)
}

fn ua_browser(extractor: &ua_parser::Extractor<'static>, ua: &str) -> Option<BrowserContext> {
    let value = extractor.ua.extract(ua)?;
    if value.family == "Other" {
        return None;
    }
    Some(BrowserContext {
        name: Annotated::new(browser_name(&value.family).to_owned()),
        version: opt(version(value.major, value.minor, value.patch)),
        ..BrowserContext::default()
    })
}

fn ua_device(extractor: &ua_parser::Extractor<'static>, ua: &str) -> Option<DeviceContext> {
    let value = extractor.dev.extract(ua)?;
    if value.device == "Other" {
        return None;
    }
    Some(DeviceContext {
        family: Annotated::new(value.device.into_owned()),
        model: opt(value.model.map(Cow::into_owned)),
        brand: opt(value.brand.map(Cow::into_owned)),
        ..DeviceContext::default()
    })
}

fn ua_os(extractor: &ua_parser::Extractor<'static>, ua: &str) -> Option<OsContext> {
    let value = extractor.os.extract(ua)?;
    if value.os == "Other" {
        return None;
    }
    let mut version = version(value.major, value.minor, value.patch);
    // uap-core cannot tell newer versions apart: browsers freeze these in the user agent.
    if let Some(v) = version.as_mut() {
        if (value.os == "Windows" && v == "10") || (value.os == "Mac OS X" && v == "10.15.7") {
            v.insert_str(0, ">=");
        }
    }
    Some(OsContext {
        name: Annotated::new(value.os.into_owned()),
        version: opt(version),
        ..OsContext::default()
    })
}

/// The contexts one user agent yields.
#[derive(Debug, Default)]
struct Parsed {
    browser: Option<BrowserContext>,
    device: Option<DeviceContext>,
    os: Option<OsContext>,
}

/// Distinct user agents whose parse is remembered; when full, the cache starts over (cheap,
/// bounded, and real traffic has few distinct user agents per process at a time).
const CACHE_CAPACITY: usize = 2048;

/// Longer user agents are parsed every time instead of being kept as cache keys.
const MAX_CACHED_LEN: usize = 512;

/// Parse results by user agent: one parse runs all three extractors (15–50 µs in release
/// builds), a hit is a hash lookup.
static CACHE: LazyLock<Mutex<HashMap<String, Arc<Parsed>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The contexts of `ua`, from the cache or parsed; `None` if the regexes failed to load.
fn parse_user_agent(ua: &str) -> Option<Arc<Parsed>> {
    let cacheable = ua.len() <= MAX_CACHED_LEN;
    if cacheable {
        // A poisoned lock only means another thread panicked mid-insert; parse uncached then.
        if let Some(parsed) = CACHE.lock().ok().and_then(|cache| cache.get(ua).cloned()) {
            return Some(parsed);
        }
    }
    let extractor = EXTRACTOR.as_ref()?;
    let parsed = Arc::new(Parsed {
        browser: ua_browser(extractor, ua),
        device: ua_device(extractor, ua),
        os: ua_os(extractor, ua),
    });
    if cacheable {
        if let Ok(mut cache) = CACHE.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(ua.to_owned(), Arc::clone(&parsed));
        }
    }
    Some(parsed)
}

/// The browser family and version (`major.minor.patch`, as in the `browser` context) of a
/// user agent, from the same uap-core regexes and cache as step 17; `None` when uap-core
/// does not recognise a browser. Spans and logs fill `browser.name` / `browser.version`
/// from it.
pub fn parse_browser(user_agent: &str) -> Option<(String, Option<String>)> {
    let parsed = parse_user_agent(user_agent)?;
    let browser = parsed.browser.as_ref()?;
    let name = browser.name.value()?.clone();
    Some((name, browser.version.value().cloned()))
}

/// Whether `contexts[key]` holds a context of the variant `is_kind` checks.
fn has_context(contexts: Option<&Contexts>, key: &str, is_kind: fn(&Context) -> bool) -> bool {
    contexts
        .and_then(|c| c.0.get(key))
        .and_then(Annotated::value)
        .is_some_and(is_kind)
}

/// Step 17: fills `browser`, `device` and `os`/`client_os` from the request headers.
pub fn normalize_user_agent(event: &mut Event) {
    let Some(headers) = event
        .request
        .value()
        .and_then(|request| request.headers.value())
    else {
        return;
    };
    let raw = RawHeaders::from_headers(headers);
    let is_javascript = event.platform.value().map(String::as_str) == Some("javascript");
    fill_contexts_from_headers(&raw, is_javascript, &mut event.contexts);
}

/// Step 17 for a payload other than an event (replay events): the contexts come from
/// `headers` when they carry a user agent or client hints, else from the submitting request's
/// `fallback` headers (the same type security reports take them in). The OS goes
/// to `os` for `javascript` payloads and to `client_os` otherwise, as for events.
pub fn fill_user_agent_contexts(
    headers: Option<&Headers>,
    fallback: Option<&SubmitterHeaders>,
    is_javascript: bool,
    contexts: &mut Annotated<Contexts>,
) {
    let own = headers.map(RawHeaders::from_headers).unwrap_or_default();
    let raw = match fallback {
        Some(submitter) if !own.has_any() => RawHeaders {
            user_agent: submitter.user_agent.as_deref(),
            sec_ch_ua: submitter.sec_ch_ua.as_deref().map(str::trim),
            sec_ch_ua_model: submitter.sec_ch_ua_model.as_deref().map(str::trim),
            sec_ch_ua_platform: submitter.sec_ch_ua_platform.as_deref().map(str::trim),
            sec_ch_ua_platform_version: submitter
                .sec_ch_ua_platform_version
                .as_deref()
                .map(str::trim),
        },
        _ => own,
    };
    fill_contexts_from_headers(&raw, is_javascript, contexts);
}

/// Adds the `browser`, `device` and OS contexts that `contexts` lacks, from client hints
/// first and the user agent for the rest.
fn fill_contexts_from_headers(
    raw: &RawHeaders<'_>,
    is_javascript: bool,
    contexts_slot: &mut Annotated<Contexts>,
) {
    if !raw.has_any() {
        return;
    }

    let contexts = contexts_slot.value();
    let os_key = if is_javascript { "os" } else { "client_os" };
    let want_browser = !has_context(contexts, "browser", |c| matches!(c, Context::Browser(_)));
    let want_device = !has_context(contexts, "device", |c| matches!(c, Context::Device(_)));
    let want_os = !contexts.is_some_and(|c| c.0.contains_key(os_key));

    let mut browser = want_browser.then(|| raw.browser()).flatten();
    let mut device = want_device.then(|| raw.device()).flatten();
    let mut os = want_os.then(|| raw.os()).flatten();
    // The user agent is only parsed for what the client hints do not give.
    let needs_ua = (want_browser && browser.is_none())
        || (want_device && device.is_none())
        || (want_os && os.is_none());
    if let Some(parsed) = raw
        .user_agent
        .filter(|ua| needs_ua && !ua.is_empty())
        .and_then(parse_user_agent)
    {
        if want_browser && browser.is_none() {
            browser.clone_from(&parsed.browser);
        }
        if want_device && device.is_none() {
            device.clone_from(&parsed.device);
        }
        if want_os && os.is_none() {
            os.clone_from(&parsed.os);
        }
    }

    if browser.is_none() && device.is_none() && os.is_none() {
        return;
    }
    let contexts = contexts_slot.get_or_insert_with(Contexts::default);
    let entries = [
        ("browser", browser.map(|c| Context::Browser(Box::new(c)))),
        ("device", device.map(|c| Context::Device(Box::new(c)))),
        (os_key, os.map(|c| Context::Os(Box::new(c)))),
    ];
    for (key, context) in entries {
        if let Some(context) = context {
            contexts.0.insert(key.to_owned(), Annotated::new(context));
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    /// The `contexts` after this step and the context step (§7.10), without `trace`.
    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_user_agent(event);
            crate::contexts::normalize_contexts(event);
        }
        let mut output = to_json(&event).unwrap_or_default();
        let contexts = output["contexts"].as_object_mut().cloned();
        let mut contexts = contexts.unwrap_or_default();
        contexts.remove("trace");
        output["contexts"] = serde_json::Value::Object(contexts);
        json!({"contexts": output["contexts"], "_meta": output["_meta"]["contexts"]})
    }

    fn ua(ua: &str) -> serde_json::Value {
        run(json!({"request": {"headers": {"User-Agent": ua}}}))["contexts"].clone()
    }

    #[test]
    fn regexes_load() {
        assert!(prepare());
    }

    #[test]
    fn user_agents_match_the_oracle() {
        // Outputs of StoreNormalizer 0.10.1 with normalize_user_agent (normalization.md §7
        // step 17), without the device `name` that the Android model table of §7.10 adds.
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                json!({"browser": {"browser": "Chrome 120.0.0", "name": "Chrome", "version": "120.0.0", "type": "browser"},
                    "client_os": {"os": "Windows >=10", "name": "Windows", "version": ">=10", "type": "os"}}),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:109.0) Gecko/20100101 Firefox/119.0",
                json!({"browser": {"browser": "Firefox 119.0", "name": "Firefox", "version": "119.0", "type": "browser"},
                    "client_os": {"os": "Mac OS X 10.15", "name": "Mac OS X", "version": "10.15", "type": "os"},
                    "device": {"family": "Mac", "model": "Mac", "brand": "Apple", "type": "device"}}),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                json!({"browser": {"browser": "Safari 17.1", "name": "Safari", "version": "17.1", "type": "browser"},
                    "client_os": {"os": "Mac OS X >=10.15.7", "name": "Mac OS X", "version": ">=10.15.7", "type": "os"},
                    "device": {"family": "Mac", "model": "Mac", "brand": "Apple", "type": "device"}}),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
                json!({"browser": {"browser": "Chrome Mobile 120.0.0", "name": "Chrome Mobile", "version": "120.0.0", "type": "browser"},
                    "client_os": {"os": "Android 10", "name": "Android", "version": "10", "type": "os"},
                    "device": {"family": "K", "model": "K", "brand": "Generic_Android", "type": "device"}}),
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                json!({"browser": {"browser": "Googlebot 2.1", "name": "Googlebot", "version": "2.1", "type": "browser"},
                    "device": {"family": "Spider", "model": "Desktop", "brand": "Spider", "type": "device"}}),
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
                json!({"browser": {"browser": "IE 11.0", "name": "IE", "version": "11.0", "type": "browser"},
                    "client_os": {"os": "Windows 7", "name": "Windows", "version": "7", "type": "os"}}),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                json!({"browser": {"browser": "Mobile Safari UI/WKWebView", "name": "Mobile Safari UI/WKWebView", "type": "browser"},
                    "client_os": {"os": "iOS 12.2", "name": "iOS", "version": "12.2", "type": "os"},
                    "device": {"family": "iPad", "model": "iPad", "brand": "Apple", "type": "device"}}),
            ),
            (
                "curl/7.68.0",
                json!({"browser": {"browser": "curl 7.68.0", "name": "curl", "version": "7.68.0", "type": "browser"}}),
            ),
            ("garbage", json!({})),
        ];
        for (input, expected) in cases {
            assert_eq!(ua(input), expected, "{input}");
        }
    }

    #[test]
    fn javascript_events_get_os_instead_of_client_os() {
        // normalization.md §7 step 17; StoreNormalizer 0.10.1 output.
        let output = run(
            json!({"platform": "javascript", "request": {"headers": {"User-Agent":
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1"}}}),
        );
        assert_eq!(
            output["contexts"],
            json!({"browser": {"browser": "Mobile Safari 16.5", "name": "Mobile Safari", "version": "16.5", "type": "browser"},
                "device": {"family": "iPhone", "model": "iPhone", "brand": "Apple", "type": "device"},
                "os": {"os": "iOS 16.5", "name": "iOS", "version": "16.5", "type": "os"}})
        );
    }

    #[test]
    fn client_hints_take_precedence_per_context() {
        // normalization.md §7 step 17, StoreNormalizer 0.10.1 output: the user agent's
        // Windows is overridden by the platform hint, its browser by `Sec-CH-UA`; an empty
        // model gives no device.
        let output = run(json!({"request": {"headers": {
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Sec-CH-UA": "\"Not_A Brand\";v=\"99\", \"Google Chrome\";v=\"109\", \"Chromium\";v=\"109\"",
            "Sec-CH-UA-Platform": "\"macOS\"", "Sec-CH-UA-Platform-Version": "\"13.1.0\"",
            "Sec-CH-UA-Model": "\"\""}}}));
        assert_eq!(
            output["contexts"],
            json!({"browser": {"browser": "Chrome 109", "name": "Chrome", "version": "109", "type": "browser"},
                "client_os": {"os": "macOS 13.1.0", "name": "macOS", "version": "13.1.0", "type": "os"}})
        );
        // Hints without a usable brand fall back to the user agent for the browser only.
        let output = run(json!({"request": {"headers": {
            "Sec-CH-UA": "\"Google Chrome\";v=\"120\"",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}}}));
        assert_eq!(
            output["contexts"],
            json!({"browser": {"browser": "Chrome 120", "name": "Chrome", "version": "120", "type": "browser"},
                "client_os": {"os": "Linux", "name": "Linux", "type": "os"}})
        );
    }

    #[test]
    fn client_hint_details() {
        // (headers, expected contexts), outputs of StoreNormalizer 0.10.1.
        let cases = [
            (json!({"Sec-CH-UA": "\"A\"; v=\"2\""}), json!({})),
            (
                json!({"Sec-CH-UA": "x\"A\";v=\"2\"x"}),
                json!({"browser": {"browser": "A 2", "name": "A", "version": "2", "type": "browser"}}),
            ),
            (
                json!({"Sec-CH-UA": "\"A\";v=\"2\";x=\"4\""}),
                json!({"browser": {"browser": "A 2", "name": "A", "version": "2", "type": "browser"}}),
            ),
            (json!({"Sec-CH-UA": "\"A\" ;v=\"2\""}), json!({})),
            (json!({"Sec-CH-UA": "\"A\";V=\"2\""}), json!({})),
            (json!({"Sec-CH-UA": "\"A,B\";v=\"2\""}), json!({})),
            // Only the first item without a brand word is tried.
            (
                json!({"Sec-CH-UA": "\" \";v=\"2\", \"R\";v=\"3\""}),
                json!({}),
            ),
            (
                json!({"Sec-CH-UA": "\"chromium\";v=\"2\", \"B\";v=\"3\""}),
                json!({"browser": {"browser": "chromium 2", "name": "chromium", "version": "2", "type": "browser"}}),
            ),
            (
                json!({"Sec-CH-UA": "\"Not A;Brand\";v=\"99\", \"B\";v=\"3\""}),
                json!({"browser": {"browser": "B 3", "name": "B", "version": "3", "type": "browser"}}),
            ),
            (
                json!({"Sec-CH-UA": "\"Google Chrome \";v=\"120\""}),
                json!({"browser": {"browser": "Google Chrome  120", "name": "Google Chrome ", "version": "120", "type": "browser"}}),
            ),
            // Header values are trimmed, then quotes removed; the platform must not be
            // empty, the version may be.
            (
                json!({"Sec-CH-UA-Model": "\"  \"", "Sec-CH-UA-Platform": "\" \"",
                    "Sec-CH-UA-Platform-Version": "\"\""}),
                json!({"client_os": {"os": "  ", "name": " ", "version": "", "type": "os"},
                    "device": {"model": "  ", "type": "device"}}),
            ),
            (
                json!({"Sec-CH-UA-Model": "   M  ", "Sec-CH-UA-Platform": "   ",
                    "Sec-CH-UA": "  \"A\";v=\"1\"  "}),
                json!({"browser": {"browser": "A 1", "name": "A", "version": "1", "type": "browser"},
                    "device": {"model": "M", "type": "device"}}),
            ),
            (
                json!({"Sec-CH-UA-Platform": "\" Windows \"", "Sec-CH-UA-Platform-Version": "  15.0 "}),
                json!({"client_os": {"os": " Windows  15.0", "name": " Windows ", "version": "15.0", "type": "os"}}),
            ),
            (
                json!({"Sec-CH-UA-Platform": "\"Linux\"", "Sec-CH-UA-Platform-Version": "\" 1 \""}),
                json!({"client_os": {"os": "Linux  1 ", "name": "Linux", "version": " 1 ", "type": "os"}}),
            ),
            (
                json!({"Sec-CH-UA-Platform": "Windows", "Sec-CH-UA-Platform-Version": "\"15.0.0\""}),
                json!({"client_os": {"os": "Windows 15.0.0", "name": "Windows", "version": "15.0.0", "type": "os"}}),
            ),
            (
                json!({"Sec-CH-UA-Model": "\"Pix\"el\""}),
                // `Pixel` is a known Android model: the contexts step names it (as Sentry).
                json!({"device": {"name": "Pixel", "model": "Pixel", "type": "device"}}),
            ),
        ];
        for (headers, expected) in cases {
            let output = run(json!({"request": {"headers": headers}}));
            assert_eq!(output["contexts"], expected, "{headers}");
        }
    }

    #[test]
    fn bounded_repetitions_stay_bounded() {
        let mut regex = Cow::Borrowed("^.{0,100}(crawl)|a{1,300}?|b{0,99}|c{2,100}");
        keep_bounded(&mut regex);
        assert_eq!(regex, "^.{0, 100}(crawl)|a{1, 300}?|b{0,99}|c{2,100}");
        // `crawl` beyond the first 100 characters is no spider (StoreNormalizer 0.10.1).
        let output = ua("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; Roadrunner; .NET CLR 1.0.3705; .NET CLR 1.1.4322; MSIECrawler)");
        assert_eq!(
            output,
            json!({"browser": {"browser": "MSIECrawler 6.0", "name": "MSIECrawler", "version": "6.0", "type": "browser"},
                "client_os": {"os": "Windows XP", "name": "Windows", "version": "XP", "type": "os"}})
        );
    }

    #[test]
    fn whitespace_and_word_boundaries_are_ascii() {
        assert_eq!(
            ascii_classes(r"\bA\s[;\s(]+[^.\S]\\s\S\d"),
            Some(r"(?-u:\b)A[[:space:]][;[:space:](]+[^.[:^space:]]\\s[^[:space:]]\d".to_owned())
        );
        assert_eq!(ascii_classes(r"Chrome/(\d+)"), None);
        // StoreNormalizer 0.10.1: `é` is no word character, a no-break space no blank.
        assert_eq!(
            ua("\u{e9}Boto3/1.2.3")["browser"],
            json!({"browser": "Boto3 1.2.3", "name": "Boto3", "version": "1.2.3", "type": "browser"})
        );
        assert_eq!(
            ua("Opera Mobi xx Opera\u{a0}12.1")["browser"],
            json!({"browser": "Opera Mobile", "name": "Opera Mobile", "type": "browser"})
        );
    }

    #[test]
    fn cached_parses_are_the_same() {
        let chrome = "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36";
        let first = ua(chrome);
        assert_eq!(first["device"]["family"], json!("Samsung SM-S918B"));
        assert_eq!(ua(chrome), first);
        // Longer than the cache key limit: parsed every time, same rules.
        let long = format!("{chrome} {}", "x".repeat(MAX_CACHED_LEN));
        assert_eq!(ua(&long)["browser"], first["browser"]);
    }

    #[test]
    fn user_agent_is_not_trimmed() {
        // uap-core's `^(Ice)$` feature-phone rule (StoreNormalizer 0.10.1).
        assert_eq!(
            ua("Ice"),
            json!({"device": {"family": "Generic Feature Phone", "model": "Feature Phone",
                "brand": "Generic", "type": "device"}})
        );
        assert_eq!(ua(" Ice"), json!({}));
        assert_eq!(ua("Ice "), json!({}));
    }

    #[test]
    fn last_header_wins() {
        let output = run(json!({"request": {"headers": [["User-Agent", "curl/1.0"],
            ["user-agent", "Wget/1.2"]]}}));
        assert_eq!(output["contexts"]["browser"]["name"], json!("Wget"));
    }

    #[test]
    fn existing_contexts_are_kept() {
        let chrome = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        let browser = json!({"browser": "Mobile Safari 16.5", "name": "Mobile Safari",
            "version": "16.5", "type": "browser"});
        let device = json!({"family": "iPhone", "model": "iPhone", "brand": "Apple",
            "type": "device"});
        // Present contexts stay; an `os` key stays even when `null` or not an OS context.
        let output = run(
            json!({"platform": "javascript", "request": {"headers": {"User-Agent": chrome}},
            "contexts": {"browser": {"name": "X"}, "device": {"model": "M"}, "os": null}}),
        );
        assert_eq!(
            output["contexts"],
            json!({"browser": {"browser": "X", "name": "X", "type": "browser"},
                "device": {"model": "M", "type": "device"}, "os": null})
        );
        // Browser and device entries that are not such contexts are replaced; a client_os of
        // another type is kept.
        let output = run(json!({"request": {"headers": {"User-Agent": chrome}},
            "contexts": {"browser": "y", "device": {"type": "other"}, "client_os": {"type": "x"}}}));
        assert_eq!(
            output,
            json!({"contexts": {"browser": browser, "client_os": {"type": "x"}, "device": device},
                "_meta": null})
        );
    }

    #[test]
    fn browser_name_and_version_for_spans_and_logs() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36";
        assert_eq!(
            parse_browser(chrome),
            Some(("Chrome".to_owned(), Some("120.0.6099".to_owned())))
        );
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        assert_eq!(
            parse_browser(iphone),
            Some(("Mobile Safari".to_owned(), Some("16.5".to_owned())))
        );
        assert_eq!(parse_browser("sentry.python/2.0.0"), None);
    }
}
