//! The upload-collection tree: parents, positions among siblings, and the rules for moving.
//! Positions are kept contiguous (1, 2, 3, …) within each parent after every change.

use std::collections::{HashMap, HashSet};

use super::CmaError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionNode {
    pub id: String,
    pub parent: Option<String>,
    pub position: i64,
}

/// One move of a reorder: where a collection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionMove {
    pub id: String,
    pub parent: Option<String>,
    pub position: i64,
}

#[derive(Debug, Clone, Default)]
pub struct CollectionTree {
    nodes: Vec<CollectionNode>,
}

impl CollectionTree {
    pub fn new(nodes: Vec<CollectionNode>) -> Self {
        CollectionTree { nodes }
    }

    pub fn nodes(&self) -> &[CollectionNode] {
        &self.nodes
    }

    fn node(&self, id: &str) -> Result<&CollectionNode, CmaError> {
        self.nodes.iter().find(|n| n.id == id).ok_or_else(CmaError::not_found)
    }

    /// Children ids of `parent` (None = root), in order.
    pub fn children_of(&self, parent: Option<&str>) -> Vec<String> {
        let mut children: Vec<&CollectionNode> = self.nodes.iter().filter(|n| n.parent.as_deref() == parent).collect();
        children.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.id.cmp(&b.id)));
        children.into_iter().map(|n| n.id.clone()).collect()
    }

    /// `id` and every collection below it (each once, even if moves made a cycle).
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_owned()];
        let mut seen: HashSet<String> = out.iter().cloned().collect();
        let mut i = 0;
        while i < out.len() {
            let current = out[i].clone();
            for node in self.nodes.iter().filter(|n| n.parent.as_deref() == Some(&current)) {
                if seen.insert(node.id.clone()) {
                    out.push(node.id.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// Adds a collection under `parent` at `position` (1-based; past the end or absent = last).
    pub fn insert(&mut self, id: &str, parent: Option<&str>, position: Option<i64>) -> Result<(), CmaError> {
        if let Some(parent) = parent {
            self.node(parent).map_err(|_| invalid_parent("the parent collection does not exist"))?;
        }
        let mut siblings = self.children_of(parent);
        siblings.insert(slot(position, siblings.len()), id.to_owned());
        self.nodes.push(CollectionNode { id: id.to_owned(), parent: parent.map(str::to_owned), position: 0 });
        self.renumber(&siblings);
        Ok(())
    }

    /// Moves `id` under `parent` at `position` (absent: last when the parent changes, same place otherwise).
    pub fn move_to(&mut self, id: &str, parent: Option<&str>, position: Option<i64>) -> Result<(), CmaError> {
        let old_parent = self.node(id)?.parent.clone();
        if let Some(parent) = parent {
            self.node(parent).map_err(|_| invalid_parent("the parent collection does not exist"))?;
            if self.subtree(id).iter().any(|d| d == parent) {
                return Err(invalid_parent("a collection cannot be moved inside itself"));
            }
        }
        let mut old_siblings = self.children_of(old_parent.as_deref());
        let old_index = old_siblings.iter().position(|s| s == id).unwrap_or(old_siblings.len());
        old_siblings.retain(|s| s != id);
        let same_parent = old_parent.as_deref() == parent;
        let mut new_siblings = if same_parent { old_siblings.clone() } else { self.children_of(parent) };
        let index = match position {
            None if same_parent => old_index.min(new_siblings.len()),
            other => slot(other, new_siblings.len()),
        };
        new_siblings.insert(index, id.to_owned());
        self.set_parent(id, parent);
        if !same_parent {
            self.renumber(&old_siblings);
        }
        self.renumber(&new_siblings);
        Ok(())
    }

    /// Reorders the children of `id`: `children` must be exactly its current children.
    pub fn order_children(&mut self, id: &str, children: &[String]) -> Result<(), CmaError> {
        self.node(id)?;
        let current: HashSet<String> = self.children_of(Some(id)).into_iter().collect();
        let given: HashSet<String> = children.iter().cloned().collect();
        if current != given || given.len() != children.len() {
            return Err(CmaError::invalid_field(
                "children",
                "INVALID_CHILDREN",
                "children must list exactly the collection's current children, in the new order",
            ));
        }
        self.renumber(children);
        Ok(())
    }

    /// Applies several moves at once (the reorder endpoint). Within each parent, moved collections
    /// take the positions asked for; the others keep their relative order around them.
    pub fn apply_moves(&mut self, moves: &[CollectionMove]) -> Result<(), CmaError> {
        let mut seen_ids = HashSet::new();
        let mut seen_slots = HashSet::new();
        for m in moves {
            self.node(&m.id)?;
            if let Some(parent) = &m.parent {
                self.node(parent).map_err(|_| invalid_parent("the parent collection does not exist"))?;
            }
            if !seen_ids.insert(m.id.clone()) {
                return Err(CmaError::new(422, "DUPLICATE_POSITIONS_FOUND", serde_json::json!({ "id": m.id })));
            }
            if !seen_slots.insert((m.parent.clone(), m.position)) {
                return Err(CmaError::new(
                    422,
                    "DUPLICATE_POSITIONS_FOUND",
                    serde_json::json!({ "parent": m.parent, "position": m.position }),
                ));
            }
            if m.position < 1 {
                return Err(CmaError::new(422, "INVALID_POSITION", serde_json::json!({ "id": m.id })));
            }
        }
        let before = self.nodes.clone();
        for m in moves {
            self.set_parent(&m.id, m.parent.as_deref());
        }
        if let Some(m) = moves.iter().find(|m| m.parent.as_ref().is_some_and(|p| self.subtree(&m.id).contains(p))) {
            // A moved collection whose new parent is below it: the tree would lose its root.
            self.nodes = before;
            return Err(invalid_parent(&format!("collection {} would be inside itself", m.id)));
        }
        let wanted: HashMap<&str, i64> = moves.iter().map(|m| (m.id.as_str(), m.position)).collect();
        let parents: HashSet<Option<String>> = self.nodes.iter().map(|n| n.parent.clone()).collect();
        for parent in parents {
            let others: Vec<String> = self
                .children_of(parent.as_deref())
                .into_iter()
                .filter(|id| !wanted.contains_key(id.as_str()))
                .collect();
            let mut moved: Vec<(i64, String)> =
                moves.iter().filter(|m| m.parent == parent).map(|m| (m.position, m.id.clone())).collect();
            moved.sort();
            let mut order = others;
            for (position, id) in moved {
                order.insert(slot(Some(position), order.len()), id);
            }
            self.renumber(&order);
        }
        Ok(())
    }

    /// Removes `id` and its subtree; returns the removed ids.
    pub fn remove(&mut self, id: &str) -> Result<Vec<String>, CmaError> {
        let parent = self.node(id)?.parent.clone();
        let removed = self.subtree(id);
        self.nodes.retain(|n| !removed.contains(&n.id));
        let siblings = self.children_of(parent.as_deref());
        self.renumber(&siblings);
        Ok(removed)
    }

    fn set_parent(&mut self, id: &str, parent: Option<&str>) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.id == id) {
            node.parent = parent.map(str::to_owned);
        }
    }

    fn renumber(&mut self, ordered: &[String]) {
        for (index, id) in ordered.iter().enumerate() {
            if let Some(node) = self.nodes.iter_mut().find(|n| n.id == *id) {
                node.position = index as i64 + 1;
            }
        }
    }
}

/// The 0-based index for a 1-based `position` among `len` siblings (absent or past the end: last).
fn slot(position: Option<i64>, len: usize) -> usize {
    match position {
        Some(p) if p >= 1 => usize::try_from(p - 1).unwrap_or(len).min(len),
        Some(_) => 0,
        None => len,
    }
}

fn invalid_parent(message: &str) -> CmaError {
    CmaError::new(422, "INVALID_PARENT", serde_json::json!({ "field": "parent", "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> CollectionTree {
        let mut tree = CollectionTree::default();
        for id in ["a", "b", "c"] {
            tree.insert(id, None, None).unwrap();
        }
        tree.insert("a1", Some("a"), None).unwrap();
        tree.insert("a2", Some("a"), None).unwrap();
        tree
    }

    fn positions(tree: &CollectionTree, parent: Option<&str>) -> Vec<(String, i64)> {
        tree.children_of(parent)
            .into_iter()
            .map(|id| {
                let p = tree.nodes().iter().find(|n| n.id == id).unwrap().position;
                (id, p)
            })
            .collect()
    }

    #[test]
    fn inserting_appends_or_places() {
        let mut tree = tree();
        tree.insert("x", None, Some(1)).unwrap();
        assert_eq!(tree.children_of(None), ["x", "a", "b", "c"]);
        assert_eq!(positions(&tree, None).iter().map(|p| p.1).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(tree.insert("y", Some("nope"), None).is_err());
    }

    #[test]
    fn moving_renumbers_both_lists() {
        let mut tree = tree();
        tree.move_to("b", Some("a"), Some(1)).unwrap();
        assert_eq!(tree.children_of(None), ["a", "c"]);
        assert_eq!(tree.children_of(Some("a")), ["b", "a1", "a2"]);
        assert_eq!(positions(&tree, None), [("a".into(), 1), ("c".into(), 2)]);
        tree.move_to("c", None, Some(1)).unwrap();
        assert_eq!(tree.children_of(None), ["c", "a"]);
    }

    #[test]
    fn cycles_are_refused() {
        let mut tree = tree();
        assert_eq!(tree.move_to("a", Some("a1"), None).unwrap_err().code, "INVALID_PARENT");
        assert_eq!(tree.move_to("a", Some("a"), None).unwrap_err().code, "INVALID_PARENT");
        let error = tree.apply_moves(&[CollectionMove { id: "a".into(), parent: Some("a2".into()), position: 1 }]);
        assert_eq!(error.unwrap_err().code, "INVALID_PARENT");
        assert_eq!(tree.children_of(None), ["a", "b", "c"], "a refused reorder changes nothing");
    }

    #[test]
    fn reorder_places_moved_collections() {
        let mut tree = tree();
        tree.apply_moves(&[
            CollectionMove { id: "c".into(), parent: None, position: 1 },
            CollectionMove { id: "a2".into(), parent: None, position: 2 },
        ])
        .unwrap();
        assert_eq!(tree.children_of(None), ["c", "a2", "a", "b"]);
        assert_eq!(tree.children_of(Some("a")), ["a1"]);
        let duplicate = tree.apply_moves(&[
            CollectionMove { id: "a".into(), parent: None, position: 1 },
            CollectionMove { id: "b".into(), parent: None, position: 1 },
        ]);
        assert_eq!(duplicate.unwrap_err().code, "DUPLICATE_POSITIONS_FOUND");
    }

    #[test]
    fn children_order_must_be_a_permutation() {
        let mut tree = tree();
        tree.order_children("a", &["a2".into(), "a1".into()]).unwrap();
        assert_eq!(tree.children_of(Some("a")), ["a2", "a1"]);
        assert!(tree.order_children("a", &["a2".into()]).is_err());
        assert!(tree.order_children("a", &["a2".into(), "a2".into()]).is_err());
        assert!(tree.order_children("a", &["a2".into(), "b".into()]).is_err());
    }

    #[test]
    fn removing_takes_the_subtree() {
        let mut tree = tree();
        let removed = tree.remove("a").unwrap();
        assert_eq!(removed, ["a", "a1", "a2"]);
        assert_eq!(positions(&tree, None), [("b".into(), 1), ("c".into(), 2)]);
    }
}
