//! Merge patches (RFC 7396) applied to typed values.
//!
//! A merge-patch body's generated type is also the document it merges into:
//! each member optional, a nullable one three-state (`None` left alone,
//! `Some(None)` removed, `Some(Some(v))` set). `cargo xtask codegen` writes
//! [`Merge`] for every such type from these steps; nothing here knows a
//! schema. A document holds no `Some(None)`: a removed member is `None`.

use std::collections::BTreeMap;

/// A document a merge patch of the same type merges into.
pub trait Merge: Default {
    /// Merges `patch` into `self`, member by member.
    fn merge(&mut self, patch: Self);
}

/// The patch's value replaces the member.
pub fn replace<T>(target: &mut Option<T>, value: T) {
    *target = Some(value);
}

/// An object merged into the member's object, or into an empty one when the
/// member is absent.
pub fn object<T: Merge>(target: &mut Option<T>, patch: T) {
    let mut value = target.take().unwrap_or_default();
    value.merge(patch);
    *target = Some(value);
}

/// A map merged key by key: a value sets its key, `None` removes it.
pub fn map_removing<V>(
    target: &mut Option<BTreeMap<String, Option<V>>>,
    patch: BTreeMap<String, Option<V>>,
) {
    let map = target.get_or_insert_with(BTreeMap::new);
    for (key, value) in patch {
        match value {
            Some(value) => {
                map.insert(key, Some(value));
            }
            None => {
                map.remove(&key);
            }
        }
    }
}

/// A map whose values cannot be `null`, merged key by key.
pub fn map_setting<V>(target: &mut Option<BTreeMap<String, V>>, patch: BTreeMap<String, V>) {
    target.get_or_insert_with(BTreeMap::new).extend(patch);
}

/// A relation's `add*` / `remove*` lists folded into its whole set (the
/// `current` set less the removed, plus the added), so that the merge that
/// follows replaces it; neither list leaves `set` to the merge.
pub fn fold_lists<T: Ord + Clone>(
    set: &mut Option<std::collections::BTreeSet<T>>,
    add: Option<std::collections::BTreeSet<T>>,
    remove: Option<std::collections::BTreeSet<T>>,
    current: Option<&std::collections::BTreeSet<T>>,
) {
    if add.is_none() && remove.is_none() {
        return;
    }
    let mut members = current.cloned().unwrap_or_default();
    if let Some(remove) = remove {
        members.retain(|m| !remove.contains(m));
    }
    members.extend(add.into_iter().flatten());
    *set = Some(members);
}

/// A nullable member: left alone when the patch leaves it out, removed by
/// `null`, else set as `set` says (replaced, or merged).
pub fn nullable<T>(
    target: &mut Option<Option<T>>,
    patch: Option<Option<T>>,
    set: impl FnOnce(&mut Option<T>, T),
) {
    match patch {
        None => {}
        Some(None) => *target = None,
        Some(Some(value)) => {
            let mut present = target.take().flatten();
            set(&mut present, value);
            *target = present.map(Some);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"a": ..., "b": {...}, "m": {...}}` with every member optional.
    #[derive(Debug, Default, PartialEq)]
    struct Inner {
        x: Option<Option<i32>>,
        y: Option<i32>,
    }

    impl Merge for Inner {
        fn merge(&mut self, patch: Self) {
            nullable(&mut self.x, patch.x, replace);
            if let Some(value) = patch.y {
                replace(&mut self.y, value);
            }
        }
    }

    #[derive(Debug, Default, PartialEq)]
    struct Doc {
        a: Option<Option<String>>,
        b: Option<Option<Inner>>,
        m: Option<Option<BTreeMap<String, Option<i32>>>>,
    }

    impl Merge for Doc {
        fn merge(&mut self, patch: Self) {
            nullable(&mut self.a, patch.a, replace);
            nullable(&mut self.b, patch.b, object);
            nullable(&mut self.m, patch.m, map_removing);
        }
    }

    fn map(pairs: &[(&str, Option<i32>)]) -> BTreeMap<String, Option<i32>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    /// RFC 7396's rules, on typed values: absent kept, null removed,
    /// objects and maps merged member by member, the rest replaced.
    #[test]
    fn merges_as_rfc_7396_says() {
        let mut doc = Doc {
            a: Some(Some("kept".into())),
            b: Some(Some(Inner {
                x: Some(Some(1)),
                y: Some(2),
            })),
            m: Some(Some(map(&[("k", Some(1)), ("gone", Some(2))]))),
        };
        doc.merge(Doc {
            a: None,
            b: Some(Some(Inner {
                x: Some(None),
                y: Some(3),
            })),
            m: Some(Some(map(&[("gone", None), ("new", Some(4))]))),
        });
        assert_eq!(
            doc,
            Doc {
                a: Some(Some("kept".into())),
                b: Some(Some(Inner {
                    x: None,
                    y: Some(3)
                })),
                m: Some(Some(map(&[("k", Some(1)), ("new", Some(4))]))),
            }
        );
        // `null` removes; an object merged into an absent member starts
        // from an empty one, and its nulls leave nothing behind.
        doc.merge(Doc {
            a: Some(None),
            b: None,
            m: Some(None),
        });
        assert_eq!(doc.a, None);
        assert_eq!(doc.m, None);
        let mut empty = Doc::default();
        empty.merge(Doc {
            b: Some(Some(Inner {
                x: Some(None),
                y: Some(5),
            })),
            ..Doc::default()
        });
        assert_eq!(
            empty.b,
            Some(Some(Inner {
                x: None,
                y: Some(5)
            }))
        );
    }

    #[test]
    fn relation_lists_fold_into_the_whole_set() {
        use std::collections::BTreeSet;
        let set = |members: &[&str]| -> BTreeSet<String> {
            members.iter().map(|m| (*m).to_owned()).collect()
        };
        let current = set(&["a", "b"]);
        let mut roles = None;
        fold_lists(
            &mut roles,
            Some(set(&["c"])),
            Some(set(&["a"])),
            Some(&current),
        );
        assert_eq!(roles, Some(set(&["b", "c"])));
        // Neither list: the set is left to the merge.
        let mut untouched = None;
        fold_lists(&mut untouched, None, None, Some(&current));
        assert_eq!(untouched, None);
    }
}
