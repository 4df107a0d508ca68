//! The paths rules reference, as a trie keyed by path segment, so that an
//! event member is looked up by its own key, never by its full path.
//!
//! Owns: the trie and its lookups. May not touch: event text (that is
//! [`super::scan`], which walks the event and asks this table).
//!
//! A bitmap of each node's children's first bytes rejects most keys in one
//! test; a few children are compared directly and many are hashed. A dotted
//! event key (`"a.b"`) walks several segments, which is exactly the
//! dot-joining rule of event-patterns §1.4.

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug, Default)]
pub(super) struct Node {
    pub(super) children: Children,
    /// Id of the path ending at this node, when a rule references it.
    pub(super) leaf: Option<u32>,
}

/// A node's children by segment. Most nodes have a handful, which a
/// length-first linear scan finds faster than hashing the key; many
/// children get a hash index as well.
#[derive(Clone, Debug, Default)]
pub(super) struct Children {
    list: Vec<(Box<[u8]>, u32)>,
    index: Option<FxHashMap<Box<[u8]>, u32>>,
    /// Bit `b` set when some child's name starts with byte `b`: most keys
    /// of an event are rejected by this one test.
    first_bytes: [u64; 4],
}

impl Children {
    /// Beyond this many children a lookup hashes.
    const LINEAR: usize = 8;

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a child's name, or the first segment of a dotted key, can
    /// start like `key`.
    #[inline(always)]
    pub(super) fn may_start(&self, key: &[u8]) -> bool {
        match key.first() {
            Some(b) => self.first_bytes[usize::from(b >> 6)] & (1 << (b & 63)) != 0,
            None => !self.list.is_empty(),
        }
    }

    #[inline(always)]
    fn get(&self, segment: &[u8]) -> Option<u32> {
        if !self.may_start(segment) {
            return None;
        }
        self.find(segment)
    }

    fn find(&self, segment: &[u8]) -> Option<u32> {
        if let Some(index) = &self.index {
            return index.get(segment).copied();
        }
        self.list.iter().find(|(name, _)| name.len() == segment.len() && **name == *segment).map(|(_, id)| *id)
    }

    fn insert(&mut self, segment: &[u8], id: u32) {
        match segment.first() {
            Some(b) => self.first_bytes[usize::from(b >> 6)] |= 1 << (b & 63),
            // An empty segment can begin any dotted key (`".a"`).
            None => self.first_bytes = [u64::MAX; 4],
        }
        self.list.push((segment.into(), id));
        if let Some(index) = &mut self.index {
            index.insert(segment.into(), id);
        } else if self.list.len() > Self::LINEAR {
            self.index = Some(self.list.iter().cloned().collect());
        }
    }
}

/// The paths rules reference, as a trie of segments.
#[derive(Clone, Debug)]
pub struct PathTable {
    pub(super) nodes: Vec<Node>,
    names: Vec<String>,
    /// Differs between tables with different contents (a clone shares it
    /// until either changes): [`super::scan::Fields`] keeps trie lookups per table.
    pub(super) id: u64,
}

/// A fresh [`PathTable::id`]; never 0, which [`super::scan::Fields`] starts with.
fn next_table_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for PathTable {
    fn default() -> Self {
        Self { nodes: vec![Node::default()], names: Vec::new(), id: next_table_id() }
    }
}

impl PathTable {
    /// The id of `path` (dot-joined), adding it if new.
    pub fn intern(&mut self, path: &str) -> u32 {
        self.id = next_table_id();
        let mut node = 0usize;
        for segment in path.split('.') {
            node = match self.nodes[node].children.get(segment.as_bytes()) {
                Some(child) => child as usize,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node].children.insert(segment.as_bytes(), child as u32);
                    child
                }
            };
        }
        if let Some(id) = self.nodes[node].leaf {
            return id;
        }
        let id = self.names.len() as u32;
        self.nodes[node].leaf = Some(id);
        self.names.push(path.to_owned());
        id
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    #[must_use]
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The node reached from `node` by an event key (dots walk segments).
    #[inline]
    pub(super) fn step(&self, node: u32, key: &[u8]) -> Option<u32> {
        let children = &self.nodes[node as usize].children;
        // Segments never contain a dot, so a key with one cannot match
        // directly and only the walk below can find it.
        if let Some(child) = children.get(key) {
            return Some(child);
        }
        if !children.may_start(key) || !key.contains(&b'.') {
            return None;
        }
        key.split(|b| *b == b'.').try_fold(node, |n, segment| self.nodes[n as usize].children.get(segment))
    }
}
