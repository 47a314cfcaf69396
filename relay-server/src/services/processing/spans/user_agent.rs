//! A small user-agent parser: the browser family and version, used to fill `browser.name` /
//! `browser.version` of spans and logs. Not a general user-agent database.

/// Browser name and version parsed from a user agent; `None` for non-browser agents (SDKs,
/// bots, libraries).
///
/// Only the common browser families are recognised (enough to fill `browser.name` /
/// `browser.version` for web SDK traffic); the order of the checks matters because most
/// agents mention several products.
pub fn parse_browser(user_agent: &str) -> Option<(String, String)> {
    let version_after = |marker: &str| -> Option<String> {
        let start = user_agent.find(marker)? + marker.len();
        let version: String = user_agent[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Vec<&str> = version
            .split('.')
            .filter(|part| !part.is_empty())
            .take(3)
            .collect();
        (!parts.is_empty()).then(|| parts.join("."))
    };
    let mobile = user_agent.contains("Mobile");
    let candidates: [(&str, &str, bool); 7] = [
        ("Edg/", "Edge", false),
        ("OPR/", "Opera", false),
        ("Firefox/", "Firefox", mobile),
        ("CriOS/", "Chrome Mobile iOS", false),
        ("Chrome/", "Chrome", mobile),
        ("Version/", "Safari", mobile),
        ("MSIE ", "IE", false),
    ];
    for (marker, name, is_mobile) in candidates {
        if !user_agent.contains(marker) {
            continue;
        }
        // `Version/` alone is not Safari (e.g. Opera Presto); require the Safari token.
        if marker == "Version/" && !user_agent.contains("Safari/") {
            continue;
        }
        let version = version_after(marker)?;
        let name = match (name, is_mobile) {
            ("Safari", true) => "Mobile Safari".to_owned(),
            ("Chrome" | "Firefox", true) => format!("{name} Mobile"),
            _ => name.to_owned(),
        };
        return Some((name, version));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_recognised() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36";
        assert_eq!(
            parse_browser(chrome),
            Some(("Chrome".into(), "120.0.6099".into()))
        );
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
        assert_eq!(
            parse_browser(safari),
            Some(("Safari".into(), "17.1".into()))
        );
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(
            parse_browser(firefox),
            Some(("Firefox".into(), "121.0".into()))
        );
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.77";
        assert_eq!(
            parse_browser(edge),
            Some(("Edge".into(), "120.0.2210".into()))
        );
        assert_eq!(parse_browser("sentry.python/2.0.0"), None);
    }
}
