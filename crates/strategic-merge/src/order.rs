//! Ordering of merged lists: patch items in the patch's (or `$setElementOrder`'s) order,
//! server-only items kept where the live list had them.

use serde_json::Value;

use crate::directives::PATCH;
use crate::error::{PatchError, describe, show};

/// How the items of a merged list are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ident<'a> {
    /// Objects, by the value of a merge key.
    Key(&'a str),
    /// Plain values, by themselves.
    Value,
}

impl Ident<'_> {
    /// The identity of an item: its merge key value, or the item itself.
    pub(crate) fn of<'v>(&self, item: &'v Value) -> Option<&'v Value> {
        match self {
            Ident::Key(key) => item.get(*key),
            Ident::Value => Some(item),
        }
    }

    /// Like [`Ident::of`], but an object without the key is an error.
    pub(crate) fn require<'v>(&self, item: &'v Value, path: &str) -> Result<&'v Value, PatchError> {
        match self {
            Ident::Value => Ok(item),
            Ident::Key(key) => {
                if !item.is_object() {
                    return Err(PatchError::NotAnObject { path: show(path), found: describe(item) });
                }
                item.get(*key).ok_or_else(|| PatchError::MissingMergeKey { path: show(path), key: (*key).to_owned() })
            }
        }
    }
}

/// Position of the item with the same identity in `list`.
fn index_of(list: &[Value], item: &Value, ident: Ident) -> Option<usize> {
    let id = ident.of(item)?;
    list.iter().position(|other| ident.of(other) == Some(id))
}

/// Whether `list` holds an item with the same identity as `item`.
pub(crate) fn contains(list: &[Value], item: &Value, ident: Ident) -> bool {
    index_of(list, item, ident).is_some()
}

/// Splits `merged` into the items present in `by` and the others, keeping order.
pub(crate) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    ident: Ident,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for item in merged {
        ident.require(&item, path)?;
        if contains(by, &item, ident) { present.push(item) } else { absent.push(item) }
    }
    Ok((present, absent))
}

/// Whether an item is a `$patch: delete` directive.
fn is_delete_item(item: &Value) -> bool {
    item.get(PATCH).and_then(Value::as_str) == Some("delete")
}

/// Sorts `items` by their position in `order` (stable; items absent from it go
/// last), with `$patch: delete` items after everything else.
pub(crate) fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    ident: Ident,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    for item in items.iter().chain(order) {
        ident.require(item, path)?;
    }
    let (mut kept, deletes): (Vec<Value>, Vec<Value>) = match ident {
        Ident::Key(_) => items.into_iter().partition(|item| !is_delete_item(item)),
        Ident::Value => (items, Vec::new()),
    };
    kept.sort_by_key(|item| index_of(order, item, ident).unwrap_or(usize::MAX));
    kept.extend(deletes);
    Ok(kept)
}

/// Interleaves server-only items (`left`) into the patch items (`right`): both
/// keep their relative order, and a server-only item goes before a patch item
/// when the live list (`server_order`) had it first.
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server_order: &[Value], ident: Ident) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (index_of(server_order, l, ident), index_of(server_order, r, ident)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Orders a merged list: patch items by `patch_order`, server-only items by the
/// live list, then the two interleaved.
pub(crate) fn normalize(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    ident: Ident,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = sort_by_order(patch_items, patch_order, ident, path)?;
    let server_only = sort_by_order(server_only, server_order, ident, path)?;
    Ok(merge_sorted(server_only, patch_items, server_order, ident))
}

/// Checks that the patch list follows `$setElementOrder`: its items (other than
/// directives) appear there, in the same relative order.
pub(crate) fn check_order(patch: &[Value], order: &[Value], ident: Ident, path: &str) -> Result<(), PatchError> {
    let mut wanted = order.iter();
    for item in patch.iter().filter(|item| item.get(PATCH).is_none()) {
        let id = ident.require(item, path)?;
        loop {
            let Some(next) = wanted.next() else {
                return Err(PatchError::OrderMismatch { path: show(path) });
            };
            let next_id = ident.require(next, path)?;
            if next_id == id {
                break;
            }
        }
    }
    Ok(())
}

/// The live order that the final `$setElementOrder` sort consults.
///
/// Upstream reads it through the live list after the merge has shifted deleted
/// items out and written new items into the freed slots, so each deleted item
/// lets one new item count as already live. Reproducing that keeps list orders
/// identical to a real API server's.
pub(crate) fn live_order_after_merge(current: &[Value], patch: &[Value], ident: Ident) -> Vec<Value> {
    let Ident::Key(key) = ident else {
        return current.to_vec();
    };
    let marker = |item: &Value| item.get(PATCH).and_then(Value::as_str).map(str::to_owned);
    if patch.iter().any(|item| marker(item).as_deref() == Some("replace")) {
        return current.to_vec();
    }
    let deleted: Vec<&Value> = patch
        .iter()
        .filter(|item| marker(item).as_deref() == Some("delete"))
        .filter_map(|item| item.get(key))
        .collect();
    let mut order: Vec<Value> =
        current.iter().filter(|item| !item.get(key).is_some_and(|id| deleted.contains(&id))).cloned().collect();
    let mut free = current.len() - order.len();
    for item in patch.iter().filter(|item| marker(item).is_none()) {
        if free == 0 {
            break;
        }
        let id = item.get(key);
        if id.is_some() && !order.iter().any(|live| live.get(key) == id) {
            order.push(item.clone());
            free -= 1;
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(value: Value) -> Vec<Value> {
        value.as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn server_only_items_keep_their_live_position_between_patch_items() {
        let live = list(json!([{"n": "a"}, {"n": "b"}, {"n": "c"}]));
        let patch = list(json!([{"n": "a"}, {"n": "c"}]));
        let merged = normalize(
            list(json!([{"n": "c"}, {"n": "a"}])),
            list(json!([{"n": "b"}])),
            &patch,
            &live,
            Ident::Key("n"),
            "x",
        );
        assert_eq!(merged, Ok(list(json!([{"n": "a"}, {"n": "b"}, {"n": "c"}]))));
    }

    #[test]
    fn delete_directives_sort_after_the_other_items() {
        let items = list(json!([{"n": "z", "$patch": "delete"}, {"n": "b"}, {"n": "a"}]));
        let order = list(json!([{"n": "a"}, {"n": "b"}]));
        let sorted = sort_by_order(items, &order, Ident::Key("n"), "x");
        assert_eq!(sorted, Ok(list(json!([{"n": "a"}, {"n": "b"}, {"n": "z", "$patch": "delete"}]))));
    }

    #[test]
    fn an_order_list_missing_a_patch_item_is_a_mismatch() {
        let patch = list(json!([{"n": "b"}, {"n": "a"}]));
        let order = list(json!([{"n": "a"}, {"n": "b"}]));
        assert_eq!(
            check_order(&patch, &order, Ident::Key("n"), "spec.containers"),
            Err(PatchError::OrderMismatch { path: "spec.containers".into() })
        );
        assert_eq!(check_order(&order, &order, Ident::Key("n"), "x"), Ok(()));
    }

    #[test]
    fn partitioning_an_item_without_the_merge_key_fails() {
        let merged = list(json!([{"other": 1}]));
        let err = partition(merged, &[], Ident::Key("name"), "spec.containers");
        assert!(matches!(err, Err(PatchError::MissingMergeKey { .. })));
    }

    #[test]
    fn a_deletion_lets_one_new_item_count_as_live() {
        let live = [json!({"n": 1}), json!({"n": 2}), json!({"n": 4})];
        let patch = [json!({"n": 3}), json!({"n": 1, "$patch": "delete"}), json!({"n": 5})];
        let order = live_order_after_merge(&live, &patch, Ident::Key("n"));
        assert_eq!(order, [json!({"n": 2}), json!({"n": 4}), json!({"n": 3})]);
    }
}
