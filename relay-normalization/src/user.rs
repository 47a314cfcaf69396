//! The user: IP address inference (normalization.md §7.1), security-report IP (§7 step 3)
//! and the user step (§7 step 8).
//!
//! The IP step follows `sdk.settings.infer_ip` (`auto`, `never`, `legacy`; absent means
//! `legacy`, anything else `never`). `remote` is `request.env.REMOTE_ADDR` when it is an IP
//! address, `client` the submitting client's address, passed in only when inference is enabled
//! ([`crate::NormalizationConfig::infer_ip_address`]). `{{auto}}` that cannot be resolved stays.
//! The user step moves unknown `user` attributes into `user.data` (a moved key replaces a
//! `data` key of the same name) and sets `sentry_user` to the first of `id:<id>`,
//! `username:<username>`, `email:<email>`, `ip:<ip_address>`.

use std::net::IpAddr;

use relay_event::schema::{AutoInferSetting, Event, User};
use relay_event::{Annotated, Object, RemarkType};

const AUTO: &str = "{{auto}}";

/// The effective `sdk.settings.infer_ip` (relay-event applies the §7.1 defaults).
fn infer_ip_setting(event: &Event) -> AutoInferSetting {
    event
        .client_sdk
        .value()
        .map_or(AutoInferSetting::Legacy, |sdk| sdk.effective_infer_ip())
}

fn remote_addr(event: &Event) -> Option<String> {
    let env = event.request.value()?.env.value()?;
    let addr = env.get("REMOTE_ADDR")?.value()?.as_str()?;
    addr.parse::<IpAddr>().ok().map(|_| addr.to_owned())
}

/// §7 step 3 (the IP part): a security report's user IP is the client IP when inference is
/// enabled.
pub fn normalize_security_report_ip(event: &mut Event, client_ip: Option<IpAddr>) {
    if event.csp.value().is_none() {
        return;
    }
    if let Some(ip) = client_ip {
        let user = event.user.get_or_insert_with(User::default);
        user.ip_address = Annotated::new(ip.to_string());
    }
}

/// §7.1: infers `user.ip_address`. `client_ip` is the submitting client's address, `None`
/// when inference is disabled.
pub fn normalize_ip_address(event: &mut Event, client_ip: Option<IpAddr>) {
    let setting = infer_ip_setting(event);
    let is_auto = |event: &Event| {
        event
            .user
            .value()
            .and_then(|user| user.ip_address.value())
            .is_some_and(|ip| ip == AUTO)
    };

    if setting == AutoInferSetting::Never {
        if is_auto(event) {
            if let Some(user) = event.user.value_mut() {
                user.ip_address.set_value(None);
            }
        }
        return;
    }

    let remote = remote_addr(event);
    let inferred = remote
        .clone()
        .or_else(|| client_ip.map(|ip| ip.to_string()));

    let has_user = event.user.value().is_some();
    let ip_absent = event
        .user
        .value()
        .is_none_or(|user| user.ip_address.value().is_none());
    let replace = (has_user && is_auto(event)) || (ip_absent && setting == AutoInferSetting::Auto);
    if replace {
        if let Some(inferred) = &inferred {
            let user = event.user.get_or_insert_with(User::default);
            user.ip_address.set_value(Some(inferred.clone()));
        }
    }

    if setting == AutoInferSetting::Legacy {
        if let Some(remote) = remote {
            let user = event.user.get_or_insert_with(User::default);
            if user.ip_address.value().is_none() {
                user.ip_address.set_value(Some(remote));
            }
        } else if let Some(inferred) = inferred {
            let platform_infers = matches!(
                event.platform.value().map(String::as_str),
                Some("javascript" | "cocoa" | "objc")
            );
            let user = event.user.get_or_insert_with(User::default);
            let removed = user
                .ip_address
                .meta()
                .remarks()
                .iter()
                .any(|remark| remark.ty == RemarkType::Removed);
            if user.ip_address.value().is_none() && !removed && platform_infers {
                user.ip_address.set_value(Some(inferred));
            }
        }
    }
}

/// §7 step 8: unknown attributes into `user.data`, then `sentry_user`.
pub fn normalize_user(event: &mut Event) {
    let Some(user) = event.user.value_mut() else {
        return;
    };
    if !user.other.is_empty() {
        let moved = std::mem::take(&mut user.other);
        let data = user.data.get_or_insert_with(Object::new);
        data.extend(moved);
    }
    let sentry_user = if let Some(id) = user.id.value() {
        Some(format!("id:{}", id.as_str()))
    } else if let Some(username) = user.username.value() {
        Some(format!("username:{}", username.as_str()))
    } else if let Some(email) = user.email.value() {
        Some(format!("email:{email}"))
    } else {
        user.ip_address.value().map(|ip| format!("ip:{ip}"))
    };
    if let Some(sentry_user) = sentry_user {
        user.sentry_user = Annotated::new(sentry_user);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value, client_ip: Option<&str>) -> serde_json::Value {
        let client_ip = client_ip.and_then(|ip| ip.parse().ok());
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_security_report_ip(event, client_ip);
            normalize_ip_address(event, client_ip);
            normalize_user(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn auto_resolves_from_remote_addr() {
        // §7.1 verified examples.
        assert_eq!(
            run(
                json!({"user": {"ip_address": "{{auto}}"},
                    "request": {"env": {"REMOTE_ADDR": "5.6.7.8"}}}),
                None
            ),
            json!({"user": {"ip_address": "5.6.7.8", "sentry_user": "ip:5.6.7.8"},
                "request": {"env": {"REMOTE_ADDR": "5.6.7.8"}}})
        );
        assert_eq!(
            run(
                json!({"platform": "python", "request": {"env": {"REMOTE_ADDR": "5.6.7.8"}}}),
                None
            ),
            json!({"platform": "python",
                "user": {"ip_address": "5.6.7.8", "sentry_user": "ip:5.6.7.8"},
                "request": {"env": {"REMOTE_ADDR": "5.6.7.8"}}})
        );
        // Unresolvable `{{auto}}` stays.
        assert_eq!(
            run(json!({"user": {"ip_address": "{{auto}}"}}), None),
            json!({"user": {"ip_address": "{{auto}}", "sentry_user": "ip:{{auto}}"}})
        );
    }

    #[test]
    fn client_ip_inference() {
        assert_eq!(
            run(json!({"user": {"ip_address": "{{auto}}"}}), Some("1.2.3.4")),
            json!({"user": {"ip_address": "1.2.3.4", "sentry_user": "ip:1.2.3.4"}})
        );
        // Legacy: only JavaScript and Cocoa platforms get the client IP without `{{auto}}`.
        assert_eq!(
            run(json!({"platform": "javascript"}), Some("1.2.3.4")),
            json!({"platform": "javascript",
                "user": {"ip_address": "1.2.3.4", "sentry_user": "ip:1.2.3.4"}})
        );
        assert_eq!(
            run(json!({"platform": "python"}), Some("1.2.3.4")),
            json!({"platform": "python"})
        );
        // `auto` infers for every platform, `never` removes `{{auto}}`.
        assert_eq!(
            run(
                json!({"sdk": {"settings": {"infer_ip": "auto"}}}),
                Some("1.2.3.4")
            ),
            json!({"user": {"ip_address": "1.2.3.4", "sentry_user": "ip:1.2.3.4"},
                "sdk": {"settings": {"infer_ip": "auto"}}})
        );
        assert_eq!(
            run(
                json!({"user": {"ip_address": "{{auto}}"},
                    "sdk": {"settings": {"infer_ip": "bogus"}}}),
                Some("1.2.3.4")
            ),
            // An invalid setting is `never`; the typed model records why.
            json!({"sdk": {"settings": {"infer_ip": null}},
                "_meta": {"sdk": {"settings": {"infer_ip": {"": {
                    "err": [["invalid_data", {"reason": "invalid infer_ip setting"}]],
                    "val": "bogus"}}}}}})
        );
        // Security reports take the client IP.
        assert_eq!(
            run(json!({"csp": {"blocked_uri": "x"}}), Some("1.2.3.4")),
            json!({"user": {"ip_address": "1.2.3.4", "sentry_user": "ip:1.2.3.4"},
                "csp": {"blocked_uri": "x"}})
        );
    }

    #[test]
    fn unknown_attributes_move_into_data() {
        // §13: `"user": {"id": 42, "plan": "pro"}`.
        assert_eq!(
            run(
                json!({"user": {"id": 42, "plan": "pro", "data": {"a": 1}}}),
                None
            ),
            json!({"user": {"id": "42", "sentry_user": "id:42",
                "data": {"a": 1, "plan": "pro"}}})
        );
        assert_eq!(
            run(json!({"user": {"username": "u", "email": "e@x"}}), None),
            json!({"user": {"email": "e@x", "username": "u", "sentry_user": "username:u"}})
        );
    }
}
