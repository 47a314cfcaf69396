//! The project's transaction-name rules (`txNameRules`, project-config.md §2) and their
//! application in normalization.md §7 step 2.
//!
//! A rule is `{"pattern": glob, "expiry": RFC 3339, "redaction": {"method": "replace",
//! "substitution"?: string}}`. The pattern is a glob over the transaction name in which `*`
//! matches within one path segment (never across `/`), `**` matches across segments and `?`
//! matches one character other than `/`. When a rule matches, every part of the name matched
//! by a single `*` is replaced by the substitution (default `*`); `**` parts are kept.
//!
//! Invariants:
//!
//! * Rules are tried in order; only the first rule that is not expired (its `expiry` is after
//!   the event's received time) and matches is applied.
//! * Names are matched with a trailing `/` appended when they have none, so that the rule
//!   patterns Sentry generates (`/users/*/**`) also match `/users/123`; the slash is removed
//!   again afterwards.
//! * Applying a rule records a remark `[<pattern>, "s"]` (no range) on the name and keeps the
//!   original name as `val` (if identifier scrubbing has not already stored one).
//!
//! Deserialization matches what Sentry's Relay accepts (observed with
//! `sentry_relay.normalize_project_config` 0.10.1): `pattern`, `expiry` (RFC 3339) and
//! `redaction` are required and a rule missing them makes the project config unparsable;
//! an unknown redaction `method` parses as [`RedactionRule::Unknown`], a rule that never
//! applies.

use chrono::{DateTime, Utc};
use relay_event::{Annotated, Remark, RemarkType, Value};
use serde::{Deserialize, Serialize};

/// One entry of `txNameRules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionNameRule {
    /// The glob pattern the (scrubbed) transaction name must match.
    pub pattern: String,
    /// The rule is ignored for events received at or after this time.
    pub expiry: DateTime<Utc>,
    /// What to do with the parts matched by `*`.
    pub redaction: RedactionRule,
}

/// The redaction of a transaction-name rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum RedactionRule {
    /// Replace every `*` match by `substitution`.
    Replace {
        /// The replacement text; `*` by default.
        #[serde(default = "default_substitution")]
        substitution: String,
    },
    /// Any other method: the rule never applies.
    #[serde(other)]
    Unknown,
}

fn default_substitution() -> String {
    "*".to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Literal(char),
    Any,
    Star,
    DoubleStar,
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // Runs of more than two stars behave like `**`.
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                tokens.push(Token::DoubleStar);
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::Any),
            c => tokens.push(Token::Literal(c)),
        }
    }
    tokens
}

/// The largest `tokens × text` table [`match_captures`] builds; longer names do not match
/// (transaction names are far shorter in practice).
const MAX_MATCH_CELLS: usize = 4_000_000;

/// Matches `tokens` against `text` (chars with their byte offsets, `end` the total length)
/// and returns the byte ranges matched by each single `*`, in order, each wildcard matching
/// as much as possible from left to right (like a backtracking regex).
///
/// `ok[i][j]` (whether `tokens[i..]` matches `text[j..]`) is filled backwards, then the
/// captures are read off walking forwards: O(tokens × text) time and memory, no recursion,
/// so hostile names or patterns cannot blow up time or stack.
fn match_captures(
    tokens: &[Token],
    text: &[(usize, char)],
    end: usize,
) -> Option<Vec<(usize, usize)>> {
    let (t, n) = (tokens.len(), text.len());
    if (t + 1).saturating_mul(n + 1) > MAX_MATCH_CELLS {
        return None;
    }
    let width = n + 1;
    let mut ok = vec![false; (t + 1) * width];
    ok[t * width + n] = true;
    for i in (0..t).rev() {
        for j in (0..=n).rev() {
            let here = text.get(j).map(|(_, c)| *c);
            let next_token = ok[(i + 1) * width + j];
            let consume = |same_token: bool| {
                let row = if same_token { i } else { i + 1 };
                j < n && ok[row * width + j + 1]
            };
            ok[i * width + j] = match tokens[i] {
                Token::Literal(c) => here == Some(c) && consume(false),
                Token::Any => here.is_some_and(|c| c != '/') && consume(false),
                Token::Star => next_token || (here.is_some_and(|c| c != '/') && consume(true)),
                Token::DoubleStar => next_token || consume(true),
            };
        }
    }
    if !ok[0] {
        return None;
    }
    let offset = |j: usize| text.get(j).map_or(end, |(o, _)| *o);
    let mut captures = Vec::new();
    let mut j = 0;
    for (i, token) in tokens.iter().enumerate() {
        let next = (i + 1) * width;
        match token {
            Token::Literal(_) | Token::Any => j += 1,
            Token::Star | Token::DoubleStar => {
                let limit = match token {
                    Token::Star => text[j..]
                        .iter()
                        .position(|(_, c)| *c == '/')
                        .map_or(n, |p| j + p),
                    _ => n,
                };
                // `ok[i][j]` holds, so some k in j..=limit continues the match.
                let k = (j..=limit).rev().find(|&k| ok[next + k]).unwrap_or(j);
                if *token == Token::Star {
                    captures.push((offset(j), offset(k)));
                }
                j = k;
            }
        }
    }
    Some(captures)
}

impl TransactionNameRule {
    /// Whether the rule is still in force for an event received at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expiry > now
    }

    /// The renamed transaction if the rule matches `name` and can redact it.
    pub fn apply(&self, name: &str) -> Option<String> {
        let RedactionRule::Replace { substitution } = &self.redaction else {
            return None;
        };
        let slash_added = !name.ends_with('/');
        let subject = if slash_added {
            format!("{name}/")
        } else {
            name.to_owned()
        };
        let chars: Vec<(usize, char)> = subject.char_indices().collect();
        let captures = match_captures(&tokenize(&self.pattern), &chars, subject.len())?;
        let mut result = String::with_capacity(subject.len());
        let mut position = 0;
        for (start, end) in captures {
            result.push_str(&subject[position..start]);
            result.push_str(substitution);
            position = end;
        }
        result.push_str(&subject[position..]);
        if slash_added {
            result.pop();
        }
        Some(result)
    }
}

/// Applies the first active matching rule to `name`: the renamed transaction and the rule.
pub fn apply_rules<'r>(
    rules: &'r [TransactionNameRule],
    name: &str,
    now: DateTime<Utc>,
) -> Option<(String, &'r TransactionNameRule)> {
    rules
        .iter()
        .filter(|rule| rule.is_active(now))
        .find_map(|rule| rule.apply(name).map(|renamed| (renamed, rule)))
}

/// Applies the rules to an (already identifier-scrubbed) transaction name in place, with the
/// remark and `val` of the module docs. Returns whether a rule applied.
pub fn apply_to_transaction(
    name: &mut Annotated<String>,
    rules: &[TransactionNameRule],
    now: DateTime<Utc>,
) -> bool {
    let Some(current) = name.value() else {
        return false;
    };
    let Some((renamed, rule)) = apply_rules(rules, current, now) else {
        return false;
    };
    let original = Value::String(current.clone());
    name.set_value(Some(renamed));
    let meta = name.meta_mut();
    if meta.original_value().is_none() {
        meta.set_original_value(Some(original));
    }
    meta.add_remark(Remark::new(RemarkType::Substituted, rule.pattern.clone()));
    true
}

#[cfg(test)]
mod tests {
    use relay_event::to_json;
    use serde_json::json;

    use super::*;

    fn rule(pattern: &str, substitution: Option<&str>) -> TransactionNameRule {
        let mut redaction = json!({"method": "replace"});
        if let Some(s) = substitution {
            redaction["substitution"] = json!(s);
        }
        serde_json::from_value(json!({"pattern": pattern,
            "expiry": "2030-01-01T00:00:00Z", "redaction": redaction}))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1704067200, 0).unwrap_or_default()
    }

    #[test]
    fn deserializes_like_project_config() {
        // Shapes accepted and rejected by `normalize_project_config` 0.10.1.
        let parsed: Vec<TransactionNameRule> = serde_json::from_value(json!([
            {"pattern": "/a/*/**", "expiry": "2030-01-01T00:00:00Z",
             "redaction": {"method": "replace"}},
            {"pattern": "/b/*/**", "expiry": "2030-01-01T00:00:00Z",
             "redaction": {"method": "bogus"}, "scope": {"source": "url"}},
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parsed[0].redaction,
            RedactionRule::Replace {
                substitution: "*".into()
            }
        );
        assert_eq!(parsed[1].redaction, RedactionRule::Unknown);
        for bad in [
            json!([{"pattern": "/a/**", "expiry": "2030-01-01T00:00:00Z"}]),
            json!([{"pattern": "/a/**", "redaction": {"method": "replace"}}]),
            json!([{"pattern": "/a/**", "expiry": "2030", "redaction": {"method": "replace"}}]),
            json!([5]),
        ] {
            assert!(serde_json::from_value::<Vec<TransactionNameRule>>(bad).is_err());
        }
    }

    #[test]
    fn globs_and_substitution() {
        let r = rule("/users/*/orders/**", None);
        assert_eq!(
            r.apply("/users/123/orders/abc").as_deref(),
            Some("/users/*/orders/abc")
        );
        // The appended slash lets `/**` match the end of the name.
        assert_eq!(
            r.apply("/users/x/orders").as_deref(),
            Some("/users/*/orders")
        );
        assert_eq!(r.apply("/users/x/y/orders/a"), None);
        assert_eq!(r.apply("/accounts/x/orders/a"), None);
        let r = rule("/a/*/b/*/**", Some(":id"));
        assert_eq!(
            r.apply("/a/1/b/2/c/d/").as_deref(),
            Some("/a/:id/b/:id/c/d/")
        );
        let r = rule("/a/**", Some(":id"));
        assert_eq!(r.apply("/a/1/2").as_deref(), Some("/a/1/2"));
        // Many wildcards against a long name: memoized, not exponential.
        let r = rule(&format!("{}x", "**a".repeat(30)), None);
        assert_eq!(r.apply(&"a".repeat(3000)), None);
        let r = rule("/ü?/*/**", None);
        assert_eq!(r.apply("/üx/ä/q").as_deref(), Some("/üx/*/q"));
        let unknown = TransactionNameRule {
            redaction: RedactionRule::Unknown,
            ..rule("/**", None)
        };
        assert_eq!(unknown.apply("/a"), None);
    }

    #[test]
    fn first_active_rule_wins() {
        let mut expired = rule("/a/*/**", Some("EXPIRED"));
        expired.expiry = now();
        let rules = [
            expired,
            rule("/b/**", Some("B")),
            rule("/a/*/**", Some("A")),
        ];
        let applied = apply_rules(&rules, "/a/1/x", now());
        assert_eq!(
            applied.map(|(name, rule)| (name, rule.pattern.as_str())),
            Some(("/a/A/x".to_owned(), "/a/*/**"))
        );
    }

    #[test]
    fn remark_and_original_value() {
        let mut name = Annotated::new("/users/abc/x".to_owned());
        assert!(apply_to_transaction(
            &mut name,
            &[rule("/users/*/**", None)],
            now()
        ));
        assert_eq!(
            to_json(&Annotated::new(json_object(name))).ok(),
            Some(json!({"t": "/users/*/x",
                "_meta": {"t": {"": {"rem": [["/users/*/**", "s"]], "val": "/users/abc/x"}}}}))
        );
    }

    fn json_object(name: Annotated<String>) -> relay_event::Object<String> {
        let mut object = relay_event::Object::new();
        object.insert("t".to_owned(), name);
        object
    }
}
