//! `ActionSet`: a bitset over the catalog's action index, the currency of the whole engine.
//!
//! Candidates, kept sets, removed groups and minimal results are all `ActionSet`s, so set
//! algebra must be cheap: it is word-wise over `u64`s. Actions unknown to the catalog get
//! indices past the catalog's end (see [`crate::catalog::Catalog::intern`]), so nothing a
//! user wrote is silently dropped.

use crate::catalog::{ActionId, Catalog};
use std::fmt;

/// A set of actions, identified by catalog index.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionSet {
    words: Vec<u64>,
}

impl ActionSet {
    /// The empty set.
    pub fn new() -> ActionSet {
        ActionSet { words: Vec::new() }
    }

    /// A set holding the given ids.
    pub fn from_ids(ids: impl IntoIterator<Item = ActionId>) -> ActionSet {
        let mut s = ActionSet::new();
        for id in ids {
            s.insert(id);
        }
        s
    }

    fn trim(&mut self) {
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }

    /// Adds an action; returns true if it was not there.
    pub fn insert(&mut self, id: ActionId) -> bool {
        let (w, b) = (id.index() / 64, id.index() % 64);
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let Some(word) = self.words.get_mut(w) else { return false };
        let was = *word & (1 << b) != 0;
        *word |= 1 << b;
        !was
    }

    /// Removes an action; returns true if it was there.
    pub fn remove(&mut self, id: ActionId) -> bool {
        let (w, b) = (id.index() / 64, id.index() % 64);
        let Some(word) = self.words.get_mut(w) else { return false };
        let was = *word & (1 << b) != 0;
        *word &= !(1 << b);
        self.trim();
        was
    }

    /// Is the action in the set?
    #[inline]
    pub fn contains(&self, id: ActionId) -> bool {
        let (w, b) = (id.index() / 64, id.index() % 64);
        self.words.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True if there are no actions.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &ActionSet) -> ActionSet {
        let (long, short) = if self.words.len() >= other.words.len() { (self, other) } else { (other, self) };
        let mut words = long.words.clone();
        for (w, o) in words.iter_mut().zip(&short.words) {
            *w |= o;
        }
        ActionSet { words }
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &ActionSet) -> ActionSet {
        let mut s = ActionSet { words: self.words.iter().zip(&other.words).map(|(a, b)| a & b).collect() };
        s.trim();
        s
    }

    /// `self \ other`.
    pub fn difference(&self, other: &ActionSet) -> ActionSet {
        let mut words = self.words.clone();
        for (w, o) in words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
        let mut s = ActionSet { words };
        s.trim();
        s
    }

    /// In-place `self ∪= other`.
    pub fn union_with(&mut self, other: &ActionSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    /// In-place `self \= other`.
    pub fn difference_with(&mut self, other: &ActionSet) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
        self.trim();
    }

    /// Is every action of `self` in `other`?
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        self.words.iter().enumerate().all(|(i, w)| w & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    /// Do the sets share an action?
    pub fn intersects(&self, other: &ActionSet) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// The ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(ActionId::from_index(i * 64 + b as usize))
            })
        })
    }

    /// Canonical names, sorted by catalog order (service, then action).
    pub fn names(&self, catalog: &Catalog) -> Vec<String> {
        self.iter().map(|id| catalog.name(id)).collect()
    }
}

impl FromIterator<ActionId> for ActionSet {
    fn from_iter<T: IntoIterator<Item = ActionId>>(iter: T) -> Self {
        ActionSet::from_ids(iter)
    }
}

impl fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|id| id.index())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[usize]) -> ActionSet {
        ids.iter().map(|&i| ActionId::from_index(i)).collect()
    }

    #[test]
    fn algebra() {
        let a = set(&[1, 64, 200]);
        let b = set(&[64, 300]);
        assert_eq!(a.union(&b), set(&[1, 64, 200, 300]));
        assert_eq!(a.intersection(&b), set(&[64]));
        assert_eq!(a.difference(&b), set(&[1, 200]));
        assert_eq!(b.difference(&set(&[300])), set(&[64]));
        assert!(set(&[64]).is_subset(&a));
        assert!(!b.is_subset(&a));
        assert!(a.intersects(&b));
        assert_eq!(a.len(), 3);
        assert_eq!(a.iter().map(|i| i.index()).collect::<Vec<_>>(), vec![1, 64, 200]);
        // Equality does not depend on how the set was built.
        let mut c = set(&[1, 500]);
        c.remove(ActionId::from_index(500));
        assert_eq!(c, set(&[1]));
    }
}
