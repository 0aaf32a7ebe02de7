//! Diff of two JSON objects into a strategic merge patch, with the options kubectl's three-way patch uses.

use serde_json::{Map, Value};

use crate::directives::{
    DELETE_FROM_PRIMITIVE_LIST, PATCH, RETAIN_KEYS, SET_ELEMENT_ORDER, join, sort_text,
};
use crate::error::{PatchError, show};
use crate::order::{Ident, sort_by_order};
use crate::schema::{FieldMeta, MergeSchema, Strategy};

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
    let drops_field = original
        .iter()
        .any(|(k, v)| !v.is_null() && !modified.contains_key(k));
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
    if meta.strategy == Strategy::Replace {
        if !opts.ignore_changes && old != new {
            patch.insert(key.to_owned(), Value::Object(new.clone()));
        }
        return Ok(());
    }
    let opts = DiffOptions {
        build_retain_keys: meta.retain_keys,
        ..opts
    };
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
    if meta.strategy != Strategy::Merge {
        if !opts.ignore_changes && old != new {
            patch.insert(key.to_owned(), Value::Array(new.to_vec()));
        }
        return Ok(());
    }
    let opts = DiffOptions {
        build_retain_keys: meta.retain_keys,
        ..opts
    };
    let lists = diff_lists(old, new, meta.merge_key.as_deref(), child, opts, path)?;
    if !lists.patch.is_empty() {
        patch.insert(key.to_owned(), Value::Array(lists.patch));
    }
    if !lists.deletions.is_empty() {
        patch.insert(
            format!("{DELETE_FROM_PRIMITIVE_LIST}{key}"),
            Value::Array(lists.deletions),
        );
    }
    if !lists.order.is_empty() {
        patch.insert(
            format!("{SET_ELEMENT_ORDER}{key}"),
            Value::Array(lists.order),
        );
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
        let patch = if opts.ignore_changes {
            Vec::new()
        } else {
            new.to_vec()
        };
        return Ok(ListDiff {
            patch,
            ..ListDiff::default()
        });
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
    let same_order =
        old.len() == new.len() && old.iter().zip(new).all(|(o, n)| ident.of(o) == ident.of(n));
    patch.extend(deleted);
    let changes_wanted = !opts.ignore_changes && (!patch.is_empty() || !same_order);
    let deletions_wanted = !opts.ignore_deletions && !patch.is_empty();
    let mut order = Vec::new();
    if opts.set_element_order && (changes_wanted || deletions_wanted) {
        for item in new {
            let id = ident.require(item, path)?;
            order.push(Value::Object(Object::from_iter([(
                key.to_owned(),
                id.clone(),
            )])));
        }
    }
    Ok(ListDiff {
        patch,
        deletions: Vec::new(),
        order,
    })
}

/// Diffs two lists of plain values treated as sets.
fn diff_plain_lists(
    old: &[Value],
    new: &[Value],
    opts: DiffOptions,
    path: &str,
) -> Result<ListDiff, PatchError> {
    let mut old_sorted: Vec<&Value> = old.iter().collect();
    let mut new_sorted: Vec<&Value> = new.iter().collect();
    old_sorted.sort_by_cached_key(|v| sort_text(v));
    new_sorted.sort_by_cached_key(|v| sort_text(v));
    let (mut added, mut deletions) = (Vec::new(), Vec::new());
    let (mut o, mut n) = (
        old_sorted.into_iter().peekable(),
        new_sorted.into_iter().peekable(),
    );
    loop {
        let step = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => sort_text(a).cmp(&sort_text(b)),
        };
        match step {
            std::cmp::Ordering::Equal => {
                o.next();
                n.next();
            }
            std::cmp::Ordering::Less => {
                let gone = o.next().cloned().unwrap_or_default();
                if !opts.ignore_deletions && !deletions.contains(&gone) {
                    deletions.push(gone);
                }
            }
            std::cmp::Ordering::Greater => {
                let extra = n.next().cloned().unwrap_or_default();
                if !opts.ignore_changes {
                    added.push(extra);
                }
            }
        }
    }
    let added = sort_by_order(added, new, Ident::Value, path)?;
    let wanted =
        (!opts.ignore_deletions && !deletions.is_empty()) || (!opts.ignore_changes && old != new);
    let order = if opts.set_element_order && wanted {
        new.to_vec()
    } else {
        Vec::new()
    };
    Ok(ListDiff {
        patch: added,
        deletions,
        order,
    })
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
    let sorted = |list: &[Value]| -> Result<Vec<(String, Value)>, PatchError> {
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            out.push((sort_text(ident.require(item, path)?), item.clone()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    };
    let (old_sorted, new_sorted) = (sorted(old)?, sorted(new)?);
    let (mut changed, mut deleted) = (Vec::new(), Vec::new());
    let (mut o, mut n) = (
        old_sorted.into_iter().peekable(),
        new_sorted.into_iter().peekable(),
    );
    loop {
        let step = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => a.0.cmp(&b.0),
        };
        match step {
            std::cmp::Ordering::Equal => {
                let (Some((_, old_item)), Some((_, new_item))) = (o.next(), n.next()) else {
                    break;
                };
                if let (Value::Object(old_item), Value::Object(new_item)) = (&old_item, &new_item) {
                    let id = new_item.get(key).cloned().unwrap_or_default();
                    let item_at = crate::directives::item_path(path, key, Some(&id));
                    let mut sub = diff_maps(old_item, new_item, schema, opts, &item_at)?;
                    if !sub.is_empty() {
                        sub.insert(key.to_owned(), id);
                        changed.push(Value::Object(sub));
                    }
                }
            }
            std::cmp::Ordering::Less => {
                let Some((_, gone)) = o.next() else { break };
                if !opts.ignore_deletions {
                    let id = gone.get(key).cloned().unwrap_or_default();
                    let directive = [
                        (key.to_owned(), id),
                        (PATCH.to_owned(), Value::from("delete")),
                    ];
                    deleted.push(Value::Object(Object::from_iter(directive)));
                }
            }
            std::cmp::Ordering::Greater => {
                let Some((_, extra)) = n.next() else { break };
                if !opts.ignore_changes {
                    changed.push(extra);
                }
            }
        }
    }
    Ok((changed, deleted))
}
