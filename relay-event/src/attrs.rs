//! [`FieldAttrs`]: the schema attributes of a field that processors act on.
//!
//! They mirror the field attributes of normalization.md §6.2 (`required`, `nonempty`,
//! `trim_whitespace`, allowed/denied characters), §8.1 and §8.2 (`max_chars` with its
//! allowance, bag sizes as byte and depth budgets) and the PII level of pii.md. All
//! constructors are `const`, so a derive can put a field's attributes in a `static`.

/// Whether a value may contain personally identifiable information.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pii {
    /// Always scrubbed by default rules.
    True,
    /// Never scrubbed.
    #[default]
    False,
    /// Only scrubbed by rules that address it explicitly.
    Maybe,
}

/// A set of characters given as inclusive ranges, optionally negated (then the ranges are the
/// denied characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharacterSet {
    /// Inclusive character ranges.
    pub ranges: &'static [(char, char)],
    /// Whether the ranges list denied characters instead of allowed ones.
    pub negated: bool,
}

impl CharacterSet {
    /// Only the characters in `ranges` are allowed.
    pub const fn allow(ranges: &'static [(char, char)]) -> Self {
        CharacterSet {
            ranges,
            negated: false,
        }
    }

    /// The characters in `ranges` are denied, all others allowed.
    pub const fn deny(ranges: &'static [(char, char)]) -> Self {
        CharacterSet {
            ranges,
            negated: true,
        }
    }

    /// Whether `c` is allowed.
    pub fn is_valid(&self, c: char) -> bool {
        let listed = self.ranges.iter().any(|&(low, high)| low <= c && c <= high);
        listed != self.negated
    }
}

/// The attributes of one field (or of an array element / object value, which inherit only the
/// PII level of their container, see [`FieldAttrs::for_children`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldAttrs {
    /// The field name, for struct fields.
    pub name: Option<&'static str>,
    /// The value must be present (`missing_attribute` otherwise).
    pub required: bool,
    /// The value must not be empty.
    pub nonempty: bool,
    /// Leading and trailing whitespace is removed.
    pub trim_whitespace: bool,
    /// Allowed or denied characters.
    pub characters: Option<CharacterSet>,
    /// Maximum length in characters.
    pub max_chars: Option<usize>,
    /// Extra characters tolerated beyond `max_chars` before trimming.
    pub max_chars_allowance: usize,
    /// Depth budget of the value (bag size).
    pub max_depth: Option<usize>,
    /// Byte budget of the value (bag size).
    pub max_bytes: Option<usize>,
    /// PII level.
    pub pii: Pii,
    /// Whether unknown attributes are kept when unknown attributes are removed.
    pub retain: bool,
}

/// The attributes of a value without any declared attributes.
pub static DEFAULT_FIELD_ATTRS: FieldAttrs = FieldAttrs::new();

impl Default for FieldAttrs {
    fn default() -> Self {
        FieldAttrs::new()
    }
}

impl FieldAttrs {
    /// No attributes.
    pub const fn new() -> Self {
        FieldAttrs {
            name: None,
            required: false,
            nonempty: false,
            trim_whitespace: false,
            characters: None,
            max_chars: None,
            max_chars_allowance: 0,
            max_depth: None,
            max_bytes: None,
            pii: Pii::False,
            retain: false,
        }
    }

    /// Sets the field name.
    pub const fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets `required`.
    pub const fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Sets `nonempty`.
    pub const fn nonempty(mut self, nonempty: bool) -> Self {
        self.nonempty = nonempty;
        self
    }

    /// Sets `trim_whitespace`.
    pub const fn trim_whitespace(mut self, trim: bool) -> Self {
        self.trim_whitespace = trim;
        self
    }

    /// Sets the allowed / denied characters.
    pub const fn characters(mut self, characters: CharacterSet) -> Self {
        self.characters = Some(characters);
        self
    }

    /// Sets `max_chars` and its allowance.
    pub const fn max_chars(mut self, max_chars: usize, allowance: usize) -> Self {
        self.max_chars = Some(max_chars);
        self.max_chars_allowance = allowance;
        self
    }

    /// Sets the bag size: a byte and/or depth budget.
    pub const fn bag_size(mut self, max_bytes: Option<usize>, max_depth: Option<usize>) -> Self {
        self.max_bytes = max_bytes;
        self.max_depth = max_depth;
        self
    }

    /// Sets the PII level.
    pub const fn pii(mut self, pii: Pii) -> Self {
        self.pii = pii;
        self
    }

    /// Sets `retain`.
    pub const fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// The attributes of the elements / values of a container with these attributes: only the
    /// PII level is inherited.
    pub const fn for_children(&self) -> Self {
        FieldAttrs::new().pii(self.pii)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DIST_CHARS: CharacterSet = CharacterSet::allow(&[
        ('a', 'z'),
        ('A', 'Z'),
        ('0', '9'),
        ('_', '_'),
        ('.', '.'),
        ('-', '-'),
    ]);
    static LOGGER_CHARS: CharacterSet = CharacterSet::deny(&[('\r', '\r'), ('\n', '\n')]);

    #[test]
    fn character_sets() {
        assert!(DIST_CHARS.is_valid('a') && DIST_CHARS.is_valid('-'));
        assert!(!DIST_CHARS.is_valid(' '));
        assert!(LOGGER_CHARS.is_valid(' ') && !LOGGER_CHARS.is_valid('\n'));
    }

    #[test]
    fn attributes_are_const_and_children_inherit_pii_only() {
        const ATTRS: FieldAttrs = FieldAttrs::new()
            .name("extra")
            .pii(Pii::True)
            .bag_size(Some(262_144), Some(7))
            .max_chars(200, 0)
            .required(true);
        let children = ATTRS.for_children();
        assert_eq!(children.pii, Pii::True);
        assert_eq!(children.max_bytes, None);
        assert_eq!(children.max_chars, None);
        assert!(!children.required);
    }
}
