//! `${NAME}` / `${file:<path>}` substitution in `config.yml` (`config.md` §1.1).
//!
//! Substitution runs on the parsed YAML tree before it is turned into typed values:
//!
//! * only a string value that consists *entirely* of one placeholder is replaced; map keys and
//!   embedded placeholders (`"x${NAME}"`) are left alone;
//! * the replacement text is resolved like a YAML plain scalar, so `42` becomes a number,
//!   `true`/`false` booleans, a value in double quotes the string between them and everything
//!   else a string; the typed model then accepts or rejects it like any other YAML value (a
//!   number where a string is expected is a type error);
//! * file contents are used untrimmed, so `42\n` stays a string;
//! * a missing variable or unreadable file is an error.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Opens a placeholder.
const PLACEHOLDER_START: &str = "${";
/// Closes a placeholder.
const PLACEHOLDER_END: &str = "}";
/// Marks a file placeholder.
const FILE_PREFIX: &str = "file:";

/// Why a placeholder could not be replaced.
#[derive(Debug, thiserror::Error)]
pub enum SubstitutionError {
    /// `${NAME}` names an unset variable.
    #[error("environment variable {0} referenced by the config is not set")]
    MissingVariable(String),
    /// `${NAME}` names a variable whose value is not valid UTF-8.
    #[error("environment variable {0} referenced by the config is not valid unicode")]
    VariableNotUnicode(String),
    /// `${file:<path>}` names a file that cannot be read as text.
    #[error("could not read file {path} referenced by the config")]
    UnreadableFile {
        /// The resolved path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The source of a placeholder's replacement.
#[derive(Debug, PartialEq, Eq)]
enum Placeholder<'a> {
    Environment(&'a str),
    File(&'a str),
}

fn parse_placeholder(text: &str) -> Option<Placeholder<'_>> {
    let inner = text
        .strip_prefix(PLACEHOLDER_START)?
        .strip_suffix(PLACEHOLDER_END)?;
    // A second brace means several placeholders or nesting, which is not a sole placeholder.
    if inner.is_empty() || inner.contains(['{', '}']) {
        return None;
    }
    match inner.strip_prefix(FILE_PREFIX) {
        Some("") => None,
        Some(path) => Some(Placeholder::File(path)),
        None => Some(Placeholder::Environment(inner)),
    }
}

fn is_yaml_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

fn is_yaml_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(index) => (&unsigned[..index], Some(&unsigned[index + 1..])),
        None => (unsigned, None),
    };
    let (integer_part, fraction_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let mantissa_ok = (!integer_part.is_empty() || !fraction_part.is_empty())
        && all_digits(integer_part)
        && all_digits(fraction_part);
    let exponent_ok = exponent.is_none_or(is_yaml_integer);
    mantissa_ok && exponent_ok
}

/// Interprets replacement text like a YAML plain scalar (without surrounding whitespace rules).
pub(crate) fn resolve_scalar(text: String) -> Value {
    match text.as_str() {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if is_yaml_integer(&text) {
        if let Ok(number) = text.parse::<u64>() {
            return Value::Number(number.into());
        }
        if let Ok(number) = text.parse::<i64>() {
            return Value::Number(number.into());
        }
    }
    if is_yaml_float(&text) {
        if let Ok(number) = text.parse::<f64>() {
            return Value::Number(number.into());
        }
    }
    let quoted = text.len() >= 2 && text.starts_with('"') && text.ends_with('"');
    if quoted {
        return Value::String(text[1..text.len() - 1].to_owned());
    }
    Value::String(text)
}

/// Environment lookup, injectable for tests.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<String, std::env::VarError>;

fn replacement_text(
    placeholder: Placeholder<'_>,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<String, SubstitutionError> {
    match placeholder {
        Placeholder::Environment(name) => env(name).map_err(|error| match error {
            std::env::VarError::NotPresent => SubstitutionError::MissingVariable(name.to_owned()),
            std::env::VarError::NotUnicode(_) => {
                SubstitutionError::VariableNotUnicode(name.to_owned())
            }
        }),
        Placeholder::File(path) => {
            let path = base_dir.join(path);
            std::fs::read_to_string(&path)
                .map_err(|source| SubstitutionError::UnreadableFile { path, source })
        }
    }
}

/// Replaces every sole placeholder in `value`. Returns whether anything was replaced.
pub(crate) fn substitute_variables(
    value: &mut Value,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<bool, SubstitutionError> {
    match value {
        Value::String(text) => {
            let Some(placeholder) = parse_placeholder(text) else {
                return Ok(false);
            };
            let replacement = replacement_text(placeholder, base_dir, env)?;
            *value = resolve_scalar(replacement);
            Ok(true)
        }
        Value::Sequence(items) => {
            let mut replaced = false;
            for item in items {
                replaced |= substitute_variables(item, base_dir, env)?;
            }
            Ok(replaced)
        }
        Value::Mapping(mapping) => {
            let mut replaced = false;
            for (_, item) in mapping.iter_mut() {
                replaced |= substitute_variables(item, base_dir, env)?;
            }
            Ok(replaced)
        }
        Value::Tagged(tagged) => substitute_variables(&mut tagged.value, base_dir, env),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Result<String, std::env::VarError> {
        match name {
            "PORT" => Ok("3001".to_owned()),
            "SIZE" => Ok("1TiB".to_owned()),
            "QUOTED" => Ok("\"123\"".to_owned()),
            "FLAG" => Ok("true".to_owned()),
            "TEXT" => Ok("hello".to_owned()),
            _ => Err(std::env::VarError::NotPresent),
        }
    }

    fn substituted(yaml: &str, base_dir: &Path) -> Result<Value, SubstitutionError> {
        let mut value: Value = serde_yaml::from_str(yaml).unwrap();
        substitute_variables(&mut value, base_dir, &env)?;
        Ok(value)
    }

    #[test]
    fn placeholders_are_recognised_only_when_alone() {
        assert_eq!(
            parse_placeholder("${NAME}"),
            Some(Placeholder::Environment("NAME"))
        );
        assert_eq!(
            parse_placeholder("${file:secret.txt}"),
            Some(Placeholder::File("secret.txt"))
        );
        for text in [
            "x${NAME}", "${NAME}x", "${}", "${A}${B}", "$NAME", "${file:}",
        ] {
            assert_eq!(parse_placeholder(text), None, "{text}");
        }
    }

    #[test]
    fn replacement_text_is_resolved_like_a_scalar() {
        assert_eq!(resolve_scalar("42".into()), Value::Number(42u64.into()));
        assert_eq!(resolve_scalar("-7".into()), Value::Number((-7i64).into()));
        assert_eq!(resolve_scalar("0.5".into()), Value::Number(0.5f64.into()));
        assert_eq!(resolve_scalar("true".into()), Value::Bool(true));
        assert_eq!(resolve_scalar("False".into()), Value::Bool(false));
        assert_eq!(
            resolve_scalar("\"123\"".into()),
            Value::String("123".into())
        );
        assert_eq!(resolve_scalar("1TiB".into()), Value::String("1TiB".into()));
        assert_eq!(resolve_scalar("42\n".into()), Value::String("42\n".into()));
        assert_eq!(resolve_scalar("".into()), Value::String(String::new()));
        assert_eq!(
            resolve_scalar("1.2.3".into()),
            Value::String("1.2.3".into())
        );
    }

    #[test]
    fn environment_values_replace_whole_strings_only() {
        let value = substituted(
            "a: ${PORT}\nb: x${PORT}\nc: [\"${FLAG}\", '${TEXT}']\n${PORT}: ${QUOTED}\n",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(value["a"], Value::Number(3001u64.into()));
        assert_eq!(value["b"], Value::String("x${PORT}".into()));
        assert_eq!(value["c"][0], Value::Bool(true));
        assert_eq!(value["c"][1], Value::String("hello".into()));
        assert_eq!(value["${PORT}"], Value::String("123".into()));
    }

    #[test]
    fn missing_variable_is_an_error() {
        let error = substituted("a: ${NOT_THERE}", Path::new("/")).unwrap_err();
        assert!(
            matches!(error, SubstitutionError::MissingVariable(ref name) if name == "NOT_THERE")
        );
        assert_eq!(
            error.to_string(),
            "environment variable NOT_THERE referenced by the config is not set"
        );
    }

    #[test]
    fn files_are_read_relative_to_the_base_dir_untrimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("number"), "42").unwrap();
        std::fs::write(dir.path().join("number_newline"), "42\n").unwrap();
        let absolute = dir.path().join("number");
        let yaml = format!(
            "a: ${{file:number}}\nb: ${{file:number_newline}}\nc: ${{file:{}}}\n",
            absolute.display()
        );
        let value = substituted(&yaml, dir.path()).unwrap();
        assert_eq!(value["a"], Value::Number(42u64.into()));
        assert_eq!(value["b"], Value::String("42\n".into()));
        assert_eq!(value["c"], Value::Number(42u64.into()));

        let error = substituted("a: ${file:missing}", dir.path()).unwrap_err();
        assert!(matches!(error, SubstitutionError::UnreadableFile { .. }));
    }
}
