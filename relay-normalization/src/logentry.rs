//! The logentry step (normalization.md §7.2).
//!
//! * An empty logentry is left alone.
//! * Without `formatted` and `message` the whole logentry is removed (original kept) with
//!   `["invalid_data", {"reason": "no message present"}]`.
//! * With `params`, a `message` and no `formatted`, the message is formatted: Python
//!   `%`-formatting if it contains `%` (positional `%s` with a list, named `%(key)s` with an
//!   object), else curly formatting if it contains `{` (`{}` sequential and `{0}` positional
//!   with a list, `{key}` with an object). A failure leaves `formatted` unset. The output is
//!   cut to 8192 × 4 bytes.
//! * Then, if `formatted` is absent or equals `message`, `message` moves into `formatted`.
//!
//! The `%` conversions understood are `s`, `r`, `a`, `d`, `i`, `u`, `f`, `F` and `%%`, with
//! optional flags and width (which pad) and a precision for the float conversions; anything
//! else, too few or too many parameters, or a list for named (object for positional)
//! placeholders is a formatting failure.

use relay_event::schema::{Event, LogEntry};
use relay_event::{Annotated, Error, IntoValue, Value};

/// The largest formatted message, in bytes.
const MAX_FORMATTED_BYTES: usize = 8192 * 4;

/// §7.2 on the event's `logentry`.
pub fn normalize_logentry(event: &mut Event) {
    let annotated = &mut event.logentry;
    let Some(logentry) = annotated.value_mut() else {
        return;
    };
    if logentry.is_empty() {
        return;
    }
    if logentry.formatted.value().is_none() && logentry.message.value().is_none() {
        let original = annotated.take();
        let meta = annotated.meta_mut();
        meta.add_error(Error::invalid("no message present"));
        if let Some(original) = original {
            meta.set_original_value_of(original);
        }
        return;
    }
    format_params(logentry);
    let message_is_formatted = logentry.formatted.value().is_none()
        || logentry.formatted.value() == logentry.message.value();
    if message_is_formatted {
        if let Some(message) = logentry.message.take() {
            logentry.formatted = Annotated::new(message);
        }
    }
}

fn format_params(logentry: &mut LogEntry) {
    if logentry.formatted.value().is_some() {
        return;
    }
    let (Some(message), Some(params)) = (logentry.message.value(), logentry.params.value()) else {
        return;
    };
    let formatted = if message.contains('%') {
        format_percent(message, params)
    } else if message.contains('{') {
        format_curly(message, params)
    } else {
        None
    };
    if let Some(mut formatted) = formatted {
        if formatted.len() > MAX_FORMATTED_BYTES {
            let mut end = MAX_FORMATTED_BYTES;
            while !formatted.is_char_boundary(end) {
                end -= 1;
            }
            formatted.truncate(end);
        }
        logentry.formatted = Annotated::new(formatted);
    }
}

/// Python's `str()` of a parameter.
fn python_str(value: Option<&Value>) -> String {
    match value {
        None => "None".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(Value::I64(n)) => n.to_string(),
        Some(Value::U64(n)) => n.to_string(),
        Some(Value::F64(f)) => python_float(*f),
        Some(other) => relay_event::json::value_to_json(other).to_string(),
    }
}

fn python_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// Python's `repr()` of a parameter (strings quoted).
fn python_repr(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => format!("'{s}'"),
        other => python_str(other),
    }
}

fn as_number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::I64(n) => Some(*n as f64),
        Value::U64(n) => Some(*n as f64),
        Value::F64(f) => Some(*f),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn as_integer_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::I64(n) => Some(n.to_string()),
        Value::U64(n) => Some(n.to_string()),
        Value::F64(f) if f.is_finite() => Some(format!("{}", f.trunc())),
        Value::Bool(b) => Some(u8::from(*b).to_string()),
        _ => None,
    }
}

/// Python `%`-formatting of `message` with `params`; `None` on failure.
pub fn format_percent(message: &str, params: &Value) -> Option<String> {
    let mut out = String::new();
    let mut chars = message.chars().peekable();
    let mut positional = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut name = String::new();
            loop {
                match chars.next()? {
                    ')' => break,
                    c => name.push(c),
                }
            }
            key = Some(name);
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width.checked_mul(10)?.checked_add(digit as usize)?;
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p.checked_mul(10)?.checked_add(digit as usize)?;
                chars.next();
            }
            precision = Some(p);
        }
        let conversion = chars.next()?;
        if conversion == '%' && key.is_none() {
            out.push('%');
            continue;
        }
        let arg = match (&key, params) {
            (Some(name), Value::Object(map)) => map.get(name)?.value(),
            (None, Value::Array(items)) => {
                let item = items.get(positional)?;
                positional += 1;
                item.value()
            }
            _ => return None,
        };
        let text = match conversion {
            's' => python_str(arg),
            'r' | 'a' => python_repr(arg),
            'd' | 'i' | 'u' => as_integer_text(arg)?,
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), as_number(arg)?),
            _ => return None,
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            let fill = if zero && conversion != 's' { '0' } else { ' ' };
            out.extend(std::iter::repeat_n(fill, pad));
            out.push_str(&text);
        }
    }
    // Python: "not all arguments converted during string formatting".
    if let Value::Array(items) = params {
        if positional != items.len() {
            return None;
        }
    }
    Some(out)
}

/// Curly-brace formatting of `message` with `params`; `None` on failure.
pub fn format_curly(message: &str, params: &Value) -> Option<String> {
    let mut out = String::new();
    let mut chars = message.chars().peekable();
    let mut sequential = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return None,
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        c => field.push(c),
                    }
                }
                let arg = match params {
                    Value::Array(items) if field.is_empty() => {
                        let item = items.get(sequential)?;
                        sequential += 1;
                        item.value()
                    }
                    Value::Array(items) => items.get(field.parse::<usize>().ok()?)?.value(),
                    Value::Object(map) if !field.is_empty() => {
                        if field.parse::<usize>().is_ok() {
                            return None;
                        }
                        map.get(&field)?.value()
                    }
                    _ => return None,
                };
                out.push_str(&python_str(arg));
            }
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(logentry: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(json!({"logentry": logentry}));
        if let Some(event) = event.value_mut() {
            normalize_logentry(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn spec_table() {
        // §7.2, one row each.
        assert_eq!(
            run(json!({"message": "b %s", "params": ["x"]})),
            json!({"logentry": {"message": "b %s", "formatted": "b x", "params": ["x"]}})
        );
        assert_eq!(
            run(json!({"message": "b %(foo)s", "params": {"foo": "F"}}))["logentry"]["formatted"],
            json!("b F")
        );
        assert_eq!(
            run(json!({"message": "b {} {}", "params": ["A", "B"]}))["logentry"]["formatted"],
            json!("b A B")
        );
        assert_eq!(
            run(json!({"message": "b {0} {foo}", "params": {"foo": "F"}})),
            json!({"logentry": {"formatted": "b {0} {foo}", "params": {"foo": "F"}}})
        );
        assert_eq!(
            run(json!({"message": "same", "formatted": "same"})),
            json!({"logentry": {"formatted": "same"}})
        );
        assert_eq!(
            run(json!({"params": ["a"]})),
            // The original is the whole logentry, absent fields as `null` (as Sentry).
            json!({"logentry": null, "_meta": {"logentry": {"": {
                "err": [["invalid_data", {"reason": "no message present"}]],
                "val": {"formatted": null, "message": null, "params": ["a"]}}}}})
        );
        assert_eq!(run(json!({})), json!({}));
    }

    #[test]
    fn formatting_details() {
        let list = |v: serde_json::Value| from_json::<Value>(v).0.unwrap_or(Value::I64(0));
        assert_eq!(
            format_percent("%d%% of %5s|%-3s|%.2f", &list(json!([50, "ab", "c", 1.5]))),
            Some("50% of    ab|c  |1.50".to_owned())
        );
        assert_eq!(format_percent("%s %s", &list(json!(["a"]))), None);
        assert_eq!(format_percent("%s", &list(json!(["a", "b"]))), None);
        assert_eq!(
            format_percent("%s %s %s %r", &list(json!([true, null, 1.0, "q"]))),
            Some("True None 1.0 'q'".to_owned())
        );
        assert_eq!(
            format_curly("{1} {0} {{x}}", &list(json!(["a", "b"]))),
            Some("b a {x}".to_owned())
        );
        assert_eq!(
            format_curly("{a}", &list(json!({"a": 3}))),
            Some("3".to_owned())
        );
    }
}
