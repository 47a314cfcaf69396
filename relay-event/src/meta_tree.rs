//! [`MetaTree`]: the metas of a value and all its descendants, shaped like `_meta`.
//!
//! A tree node holds the meta of one value and the trees of its children, keyed by field name,
//! object key or array index (as a decimal string), exactly like the `_meta` object of
//! normalization.md §10.1. Building the tree from a value is [`crate::IntoValue`]'s job;
//! writing and reading it as JSON is in [`crate::json`].

use std::collections::BTreeMap;

use crate::annotated::Meta;

/// The key of the meta tree in a serialized object root.
pub const META_KEY: &str = "_meta";

/// The children of a [`MetaTree`] node, keyed by field name, object key or array index.
pub type MetaMap = BTreeMap<String, MetaTree>;

/// The meta of one value and the metas of its descendants.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetaTree {
    /// The meta of the value itself (the `""` key of its `_meta` node).
    pub meta: Meta,
    /// The trees of the children that have any meta.
    pub children: MetaMap,
}

impl MetaTree {
    /// Whether neither this node nor any descendant has meta.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.children.values().all(MetaTree::is_empty)
    }

    /// The node at `path` (a sequence of keys / decimal indices), if present.
    pub fn get_mut<'k>(&mut self, path: impl IntoIterator<Item = &'k str>) -> Option<&mut Self> {
        let mut node = self;
        for key in path {
            node = node.children.get_mut(key)?;
        }
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotated::ErrorKind;

    #[test]
    fn emptiness_is_deep() {
        let mut tree = MetaTree::default();
        tree.children.insert("a".into(), MetaTree::default());
        assert!(tree.is_empty());
        let mut leaf = MetaTree::default();
        leaf.meta.add_error(ErrorKind::InvalidData);
        tree.children
            .get_mut("a")
            .map(|a| a.children.insert("0".into(), leaf));
        assert!(!tree.is_empty());
        assert!(tree.get_mut(["a", "0"]).is_some());
        assert!(tree.get_mut(["a", "1"]).is_none());
    }
}
