//! [`ProcessingState`]: where a processor is in the tree, and the attributes of that place.
//!
//! States form a stack linked through parent references (no allocation per level): entering a
//! field, object key or array index borrows the parent state. The path renders like the
//! `name` of the `errors` list and the selectors of normalization.md §10.2: segments joined
//! with `.`, array indices in decimal (`exception.values.0.type`); the root's path is empty.

use std::borrow::Cow;
use std::fmt;

use crate::attrs::{FieldAttrs, Pii, DEFAULT_FIELD_ATTRS};

/// [`FieldAttrs::for_children`] of each PII level: the three possible attributes of an array
/// element or object value.
static CHILDREN_OF_PII_TRUE: FieldAttrs = FieldAttrs::new().pii(Pii::True).for_children();
static CHILDREN_OF_PII_FALSE: FieldAttrs = FieldAttrs::new().pii(Pii::False).for_children();
static CHILDREN_OF_PII_MAYBE: FieldAttrs = FieldAttrs::new().pii(Pii::Maybe).for_children();

/// One step from a parent value to a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A struct field name or object key.
    Key(Cow<'a, str>),
    /// An array index.
    Index(usize),
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Key(key) => f.write_str(key),
            Segment::Index(index) => write!(f, "{index}"),
        }
    }
}

/// The position of the value being processed: its path from the root and its attributes.
#[derive(Debug)]
pub struct ProcessingState<'a> {
    parent: Option<&'a ProcessingState<'a>>,
    segment: Option<Segment<'a>>,
    attrs: Cow<'a, FieldAttrs>,
    depth: usize,
}

impl Default for ProcessingState<'_> {
    fn default() -> Self {
        ProcessingState::root()
    }
}

impl<'a> ProcessingState<'a> {
    /// The state of the root value, without attributes.
    pub fn root() -> Self {
        ProcessingState {
            parent: None,
            segment: None,
            attrs: Cow::Borrowed(&DEFAULT_FIELD_ATTRS),
            depth: 0,
        }
    }

    /// The state of a root value with attributes.
    pub fn new_root(attrs: Cow<'a, FieldAttrs>) -> Self {
        ProcessingState {
            attrs,
            ..ProcessingState::root()
        }
    }

    fn enter(&'a self, segment: Segment<'a>, attrs: Option<Cow<'a, FieldAttrs>>) -> Self {
        ProcessingState {
            parent: Some(self),
            segment: Some(segment),
            attrs: attrs.unwrap_or(Cow::Borrowed(&DEFAULT_FIELD_ATTRS)),
            depth: self.depth + 1,
        }
    }

    /// Enters a struct field (`attrs`: the field's attributes, `None` for no attributes).
    pub fn enter_static(&'a self, name: &'static str, attrs: Option<Cow<'a, FieldAttrs>>) -> Self {
        self.enter(Segment::Key(Cow::Borrowed(name)), attrs)
    }

    /// Enters an object key.
    pub fn enter_borrowed(&'a self, key: &'a str, attrs: Option<Cow<'a, FieldAttrs>>) -> Self {
        self.enter(Segment::Key(Cow::Borrowed(key)), attrs)
    }

    /// Enters an array index.
    pub fn enter_index(&'a self, index: usize, attrs: Option<Cow<'a, FieldAttrs>>) -> Self {
        self.enter(Segment::Index(index), attrs)
    }

    /// The attributes of the current value.
    pub fn attrs(&self) -> &FieldAttrs {
        &self.attrs
    }

    /// The attributes for the children of a container at this position
    /// ([`FieldAttrs::for_children`]).
    pub fn inner_attrs(&self) -> Option<Cow<'static, FieldAttrs>> {
        // Borrowed: children only inherit the PII level, and the traversal copies these
        // attributes into the state of every element.
        Some(Cow::Borrowed(match self.attrs.pii {
            Pii::True => &CHILDREN_OF_PII_TRUE,
            Pii::False => &CHILDREN_OF_PII_FALSE,
            Pii::Maybe => &CHILDREN_OF_PII_MAYBE,
        }))
    }

    /// The parent state; `None` at the root.
    pub fn parent(&self) -> Option<&ProcessingState<'a>> {
        self.parent
    }

    /// The last segment of the path; `None` at the root.
    pub fn segment(&self) -> Option<&Segment<'a>> {
        self.segment.as_ref()
    }

    /// The number of segments from the root (0 at the root).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The path of the current value.
    pub fn path(&self) -> Path<'_> {
        Path(self)
    }

    /// The segments from the root to the current value.
    pub fn segments(&self) -> Vec<&Segment<'a>> {
        let mut segments = Vec::with_capacity(self.depth);
        let mut state = Some(self);
        while let Some(current) = state {
            if let Some(segment) = &current.segment {
                segments.push(segment);
            }
            state = current.parent;
        }
        segments.reverse();
        segments
    }
}

/// The path of a [`ProcessingState`]; displays as `exception.values.0.type`.
#[derive(Debug)]
pub struct Path<'s>(&'s ProcessingState<'s>);

impl Path<'_> {
    /// The key of the innermost field or object key (not of an index).
    pub fn key(&self) -> Option<&str> {
        match self.0.segment() {
            Some(Segment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The innermost array index.
    pub fn index(&self) -> Option<usize> {
        match self.0.segment() {
            Some(Segment::Index(index)) => Some(*index),
            _ => None,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.segments().into_iter().enumerate() {
            if position > 0 {
                f.write_str(".")?;
            }
            write!(f, "{segment}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TYPE_ATTRS: FieldAttrs = FieldAttrs::new().name("type").max_chars(256, 20);

    #[test]
    fn paths_render_dotted() {
        let root = ProcessingState::root();
        assert_eq!(root.path().to_string(), "");
        let exception = root.enter_static("exception", None);
        let values = exception.enter_static("values", None);
        let first = values.enter_index(0, None);
        let ty = first.enter_static("type", Some(Cow::Borrowed(&TYPE_ATTRS)));
        assert_eq!(ty.path().to_string(), "exception.values.0.type");
        assert_eq!(ty.depth(), 4);
        assert_eq!(ty.path().key(), Some("type"));
        assert_eq!(first.path().index(), Some(0));
        assert_eq!(ty.attrs().max_chars, Some(256));
        assert_eq!(first.attrs(), &FieldAttrs::new());
        let key = String::from("k");
        let extra = root
            .enter_static("extra", None)
            .enter_borrowed(&key, None)
            .path()
            .to_string();
        assert_eq!(extra, "extra.k");
    }
}
