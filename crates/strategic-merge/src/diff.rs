//! Diff of two JSON objects into a strategic merge patch, with the options kubectl's three-way patch uses.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::directives::{
    DELETE_FROM_PRIMITIVE_LIST, PATCH, RETAIN_KEYS, SET_ELEMENT_ORDER, item_path, join, sort_text,
};
use crate::error::{PatchError, show};
use crate::order::{Ident, sort_by_order};
use crate::schema::{FieldMeta, MergeSchema, PatchStrategy};

type Object = Map<String, Value>;

/// What a diff leaves out or adds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DiffOptions {
    /// Emit `$setElementOrder/<field>` beside changed merged lists.
    pub(crate) set_element_order: bool,
    /// Leave out additions and changes (keep only deletions).
    pub(crate) ignore_changes: bool,
    /// Leave out deletions (keep only additions and changes).
    pub(crate) ignore_deletions: bool,
    /// Emit `$retainKeys` for this object (its field has the retainKeys strategy).
    pub(crate) build_retain_keys: bool,
}

/// The patch that turns `original` into `modified`, within the options.
pub(crate) fn diff_maps(
    original: &Object,
    modified: &Object,
    schema: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<Object, PatchError> {
    let mut patch = Object::new();
    let mut retain: Vec<String> = Vec::new();
    for (key, new) in modified {
        if opts.build_retain_keys && !new.is_null() {
            retain.push(key.clone());
        }
        let field_path = join(path, key);
        match (original.get(key), new) {
            (None, _) => {
                if !opts.ignore_changes {
                    patch.insert(key.clone(), new.clone());
                }
            }
            (Some(Value::Object(old)), Value::Object(new)) => {
                let (meta, child) = schema.field(key);
                diff_map_field(&mut patch, key, old, new, meta, child, opts, &field_path)?;
            }
            (Some(Value::Array(old)), Value::Array(new)) => {
                let (meta, child) = schema.field(key);
                diff_list_field(&mut patch, key, old, new, meta, child, opts, &field_path)?;
            }
            (Some(old), new) => {
                if !opts.ignore_changes && old != new {
                    patch.insert(key.clone(), new.clone());
                }
            }
        }
    }
    if !opts.ignore_deletions {
        for key in original.keys().filter(|k| !modified.contains_key(*k)) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    // The server clears what `$retainKeys` leaves out, so it is only needed
    // when something changes or a field must go.
    let drops_field = original.iter().any(|(k, v)| !v.is_null() && !modified.contains_key(k));
    if !retain.is_empty() && (!patch.is_empty() || drops_field) {
        retain.sort();
        patch.insert(RETAIN_KEYS.to_owned(), Value::from(retain));
    }
    Ok(patch)
}

/// Diffs an object-valued field into `patch`.
#[allow(clippy::too_many_arguments)]
fn diff_map_field(
    patch: &mut Object,
    key: &str,
    old: &Object,
    new: &Object,
    meta: &FieldMeta,
    child: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<(), PatchError> {
    if meta.strategy == PatchStrategy::Replace {
        if !opts.ignore_changes && old != new {
            patch.insert(key.to_owned(), Value::Object(new.clone()));
        }
        return Ok(());
    }
    let opts = DiffOptions { build_retain_keys: meta.retain_keys, ..opts };
    let sub = diff_maps(old, new, child, opts, path)?;
    if !sub.is_empty() {
        patch.insert(key.to_owned(), Value::Object(sub));
    }
    Ok(())
}

/// Diffs a list-valued field into `patch`, with its parallel directive lists.
#[allow(clippy::too_many_arguments)]
fn diff_list_field(
    patch: &mut Object,
    key: &str,
    old: &[Value],
    new: &[Value],
    meta: &FieldMeta,
    child: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<(), PatchError> {
    if meta.strategy != PatchStrategy::Merge {
        if !opts.ignore_changes && old != new {
            patch.insert(key.to_owned(), Value::Array(new.to_vec()));
        }
        return Ok(());
    }
    let opts = DiffOptions { build_retain_keys: meta.retain_keys, ..opts };
    let lists = diff_lists(old, new, meta.merge_key.as_deref(), child, opts, path)?;
    if !lists.patch.is_empty() {
        patch.insert(key.to_owned(), Value::Array(lists.patch));
    }
    if !lists.deletions.is_empty() {
        patch.insert(format!("{DELETE_FROM_PRIMITIVE_LIST}{key}"), Value::Array(lists.deletions));
    }
    if !lists.order.is_empty() {
        patch.insert(format!("{SET_ELEMENT_ORDER}{key}"), Value::Array(lists.order));
    }
    Ok(())
}

/// The three parts of a merged list's diff.
#[derive(Default)]
struct ListDiff {
    /// Items added or changed, then `$patch: delete` items.
    patch: Vec<Value>,
    /// Plain values to remove (`$deleteFromPrimitiveList`).
    deletions: Vec<Value>,
    /// The wanted order (`$setElementOrder`).
    order: Vec<Value>,
}

/// Diffs a merged list.
fn diff_lists(
    old: &[Value],
    new: &[Value],
    key: Option<&str>,
    schema: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<ListDiff, PatchError> {
    if old.is_empty() {
        let patch = if opts.ignore_changes { Vec::new() } else { new.to_vec() };
        return Ok(ListDiff { patch, ..ListDiff::default() });
    }
    if old.iter().chain(new).any(Value::is_array) {
        return Err(PatchError::ListOfLists { path: show(path) });
    }
    let objects = old.iter().chain(new).next().is_some_and(Value::is_object);
    if old.iter().chain(new).any(|v| v.is_object() != objects) {
        return Err(PatchError::MixedList { path: show(path) });
    }
    if !objects {
        return diff_plain_lists(old, new, opts, path);
    }
    let key = key.ok_or_else(|| PatchError::NoMergeKey { path: show(path) })?;
    let ident = Ident::Key(key);
    let (changed, deleted) = diff_keyed_lists(old, new, key, schema, opts, path)?;
    let mut patch = sort_by_order(changed, new, ident, path)?;
    let same_order = old.len() == new.len() && old.iter().zip(new).all(|(o, n)| ident.of(o) == ident.of(n));
    patch.extend(deleted);
    let changes_wanted = !opts.ignore_changes && (!patch.is_empty() || !same_order);
    let deletions_wanted = !opts.ignore_deletions && !patch.is_empty();
    let mut order = Vec::new();
    if opts.set_element_order && (changes_wanted || deletions_wanted) {
        for item in new {
            let id = ident.require(item, path)?;
            order.push(Value::Object(Object::from_iter([(key.to_owned(), id.clone())])));
        }
    }
    Ok(ListDiff { patch, deletions: Vec::new(), order })
}

/// Each item with the text it sorts by: its merge key value, or itself.
fn list_texts<'a>(list: &'a [Value], ident: Ident, path: &str) -> Result<Vec<(String, &'a Value)>, PatchError> {
    list.iter().map(|item| Ok((sort_text(ident.require(item, path)?), item))).collect()
}

/// One step of walking two sorted lists side by side.
enum Step<'a> {
    Both(&'a Value, &'a Value),
    OldOnly(&'a Value),
    NewOnly(&'a Value),
}

/// Pairs up two lists by sort text, like upstream's sorted walk: equal texts
/// match, the smaller text on either side is unmatched.
fn walk<'a>(mut old: Vec<(String, &'a Value)>, mut new: Vec<(String, &'a Value)>) -> Vec<Step<'a>> {
    old.sort_by(|a, b| a.0.cmp(&b.0));
    new.sort_by(|a, b| a.0.cmp(&b.0));
    let mut steps = Vec::with_capacity(old.len().max(new.len()));
    let (mut o, mut n) = (old.into_iter().peekable(), new.into_iter().peekable());
    loop {
        let order = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => a.0.cmp(&b.0),
        };
        let step = match order {
            Ordering::Equal => o.next().zip(n.next()).map(|(a, b)| Step::Both(a.1, b.1)),
            Ordering::Less => o.next().map(|a| Step::OldOnly(a.1)),
            Ordering::Greater => n.next().map(|b| Step::NewOnly(b.1)),
        };
        steps.extend(step);
    }
    steps
}

/// Diffs two lists of plain values treated as sets.
fn diff_plain_lists(old: &[Value], new: &[Value], opts: DiffOptions, path: &str) -> Result<ListDiff, PatchError> {
    let texts = |list| list_texts(list, Ident::Value, path);
    let (mut added, mut deletions) = (Vec::new(), Vec::new());
    for step in walk(texts(old)?, texts(new)?) {
        match step {
            Step::Both(..) => {}
            Step::OldOnly(gone) => {
                if !opts.ignore_deletions && !deletions.contains(gone) {
                    deletions.push(gone.clone());
                }
            }
            Step::NewOnly(extra) => {
                if !opts.ignore_changes {
                    added.push(extra.clone());
                }
            }
        }
    }
    let added = sort_by_order(added, new, Ident::Value, path)?;
    let wanted = (!opts.ignore_deletions && !deletions.is_empty()) || (!opts.ignore_changes && old != new);
    let order = if opts.set_element_order && wanted { new.to_vec() } else { Vec::new() };
    Ok(ListDiff { patch: added, deletions, order })
}

/// Diffs two lists of objects by merge key: changed or added items (each
/// changed one carrying its key), and `$patch: delete` items for removed ones.
fn diff_keyed_lists(
    old: &[Value],
    new: &[Value],
    key: &str,
    schema: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let ident = Ident::Key(key);
    let texts = |list| list_texts(list, ident, path);
    let (mut changed, mut deleted) = (Vec::new(), Vec::new());
    for step in walk(texts(old)?, texts(new)?) {
        match step {
            Step::Both(old_item, new_item) => {
                changed.extend(diff_item(old_item, new_item, key, schema, opts, path)?);
            }
            Step::OldOnly(gone) => {
                if !opts.ignore_deletions {
                    let id = gone.get(key).cloned().unwrap_or_default();
                    let directive = [(key.to_owned(), id), (PATCH.to_owned(), Value::from("delete"))];
                    deleted.push(Value::Object(Object::from_iter(directive)));
                }
            }
            Step::NewOnly(extra) => {
                if !opts.ignore_changes {
                    changed.push(extra.clone());
                }
            }
        }
    }
    Ok((changed, deleted))
}

/// The patch item for an item present in both lists, if it changed: the
/// item's diff plus its merge key.
fn diff_item(
    old: &Value,
    new: &Value,
    key: &str,
    schema: MergeSchema,
    opts: DiffOptions,
    path: &str,
) -> Result<Option<Value>, PatchError> {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return Ok(None);
    };
    let id = new.get(key).cloned().unwrap_or_default();
    let mut sub = diff_maps(old, new, schema, opts, &item_path(path, key, Some(&id)))?;
    if sub.is_empty() {
        return Ok(None);
    }
    sub.insert(key.to_owned(), id);
    Ok(Some(Value::Object(sub)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        value.as_object().cloned().unwrap_or_default()
    }

    fn diff(old: Value, new: Value, opts: DiffOptions) -> Result<Value, PatchError> {
        let schema = MergeSchema::for_kind("apps/v1", "Deployment");
        diff_maps(&object(old), &object(new), schema, opts, "").map(Value::Object)
    }

    const ALL: DiffOptions = DiffOptions {
        set_element_order: true,
        ignore_changes: false,
        ignore_deletions: false,
        build_retain_keys: false,
    };

    #[test]
    fn a_removed_finalizer_goes_to_the_parallel_deletion_list() {
        let patch =
            diff(json!({"metadata": {"finalizers": ["a", "b"]}}), json!({"metadata": {"finalizers": ["b", "c"]}}), ALL);
        assert_eq!(
            patch,
            Ok(json!({"metadata": {
                "finalizers": ["c"],
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "$setElementOrder/finalizers": ["b", "c"]
            }}))
        );
    }

    #[test]
    fn ignoring_changes_keeps_only_deletions() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let new = json!({"metadata": {"labels": {"a": "9"}}});
        let opts = DiffOptions { ignore_changes: true, ..ALL };
        assert_eq!(diff(old, new, opts), Ok(json!({"metadata": {"labels": {"b": null}}})));
    }

    #[test]
    fn ignoring_deletions_keeps_only_changes() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let new = json!({"metadata": {"labels": {"a": "9"}}});
        let opts = DiffOptions { ignore_deletions: true, ..ALL };
        assert_eq!(diff(old, new, opts), Ok(json!({"metadata": {"labels": {"a": "9"}}})));
    }

    #[test]
    fn retain_keys_is_only_emitted_when_the_retaining_object_changes() {
        let same = json!({"spec": {"strategy": {"type": "Recreate"}}});
        assert_eq!(diff(same.clone(), same, ALL), Ok(json!({})));
        let old = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}});
        let new = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
        let opts = DiffOptions { ignore_deletions: true, ..ALL };
        // Nothing to add, but a field must go: the retain list alone clears it.
        assert_eq!(diff(old, new, opts), Ok(json!({"spec": {"strategy": {"$retainKeys": ["type"]}}})));
    }

    #[test]
    fn a_pure_reorder_of_a_keyed_list_sends_only_the_order() {
        let old = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        let new = json!({"spec": {"template": {"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}}});
        assert_eq!(
            diff(old, new, ALL),
            Ok(json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]
            }}}}))
        );
    }

    #[test]
    fn an_item_without_its_merge_key_is_an_error() {
        let old = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        let new = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = diff(old, new, ALL).unwrap_err();
        assert_eq!(err.to_string(), "spec.template.spec.containers: merge key `name` missing in an item");
    }
}
