//! The merge engine: applies a strategic merge patch to an object, or folds one patch into another.

use serde_json::{Map, Value};

use crate::directives::{
    DELETE_FROM_PRIMITIVE_LIST, KeyKind, PATCH, PatchOp, RETAIN_KEYS, SET_ELEMENT_ORDER, classify, invalid, item_path,
    join, patch_op, strip_markers,
};
use crate::error::{PatchError, describe, show};
use crate::order::{Ident, check_order, live_order_after_merge, normalize, partition};
use crate::schema::{FieldMeta, MergeSchema, PatchStrategy};

type Object = Map<String, Value>;

/// What the engine merges into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Into a live object: directives are carried out and vanish, `null` deletes.
    Apply,
    /// Into another patch (building the three-way patch): directives and `null`s
    /// are kept for the server to carry out.
    Combine,
}

/// A patch object split by what its keys are.
#[derive(Default)]
struct Parts {
    fields: Vec<(String, Value)>,
    orders: Vec<(String, Value)>,
    deletions: Vec<(String, Value)>,
    retain: Option<Value>,
}

/// Splits a patch object by key kind; unknown directives fail here.
fn split(patch: Object, path: &str) -> Result<Parts, PatchError> {
    let mut parts = Parts::default();
    for (key, value) in patch {
        match classify(&key, path)? {
            KeyKind::Field => parts.fields.push((key, value)),
            // The marker was read before splitting.
            KeyKind::Patch => {}
            KeyKind::RetainKeys => parts.retain = Some(value),
            KeyKind::SetElementOrder(field) => parts.orders.push((field.to_owned(), value)),
            KeyKind::DeleteFromPrimitiveList(field) => parts.deletions.push((field.to_owned(), value)),
        }
    }
    Ok(parts)
}

/// The kind of a merged list's items.
enum ItemKind {
    Objects,
    Plain,
}

/// The kind shared by every item of both lists; lists of lists and mixtures fail.
fn item_kind(original: &[Value], patch: &[Value], path: &str) -> Result<ItemKind, PatchError> {
    let mut objects = None;
    for item in original.iter().chain(patch) {
        if item.is_array() {
            return Err(PatchError::ListOfLists { path: show(path) });
        }
        let is_object = item.is_object();
        if *objects.get_or_insert(is_object) != is_object {
            return Err(PatchError::MixedList { path: show(path) });
        }
    }
    Ok(if objects == Some(true) { ItemKind::Objects } else { ItemKind::Plain })
}

/// The merge engine in one mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Merger {
    /// What is merged into.
    pub(crate) mode: Mode,
}

impl Merger {
    /// Merges `patch` into `original`; `None` means the object is deleted.
    pub(crate) fn merge_map(
        &self,
        mut original: Object,
        mut patch: Object,
        schema: MergeSchema,
        path: &str,
    ) -> Result<Option<Object>, PatchError> {
        match patch_op(&patch, path)? {
            // A patch folded into another patch keeps its marker for the server.
            Some(_) if self.mode == Mode::Combine => return Ok(Some(patch)),
            Some(PatchOp::Delete) => return Ok(None),
            Some(PatchOp::Replace) => {
                patch.remove(PATCH);
                return self.merge_map(Object::new(), patch, schema, path);
            }
            Some(PatchOp::Merge) => {
                patch.remove(PATCH);
            }
            None => {}
        }
        let parts = split(patch, path)?;
        if let Some(retain) = parts.retain {
            self.retain_keys(&mut original, retain, &parts.fields, path)?;
        }
        for (field, list) in parts.deletions {
            self.delete_from_list(&mut original, field, list, path)?;
        }
        let mut fields = parts.fields;
        for (field, order) in parts.orders {
            let patch_list = fields.iter().position(|(k, _)| *k == field).map(|i| fields.remove(i).1);
            self.set_element_order(&mut original, &field, order, patch_list, schema, path)?;
        }
        for (key, value) in fields {
            self.merge_field(&mut original, key, value, schema, path)?;
        }
        Ok(Some(original))
    }

    /// Merges one field of a patch into `original`.
    fn merge_field(
        &self,
        original: &mut Object,
        key: String,
        value: Value,
        schema: MergeSchema,
        path: &str,
    ) -> Result<(), PatchError> {
        let (meta, child) = schema.field(&key);
        let field_path = join(path, &key);
        if value.is_null() {
            original.remove(&key);
            if self.mode == Mode::Combine {
                original.insert(key, Value::Null);
            }
            return Ok(());
        }
        match original.get_mut(&key) {
            Some(slot) => {
                let current = std::mem::take(slot);
                match self.merge_value(Some(current), value, meta, child, &field_path)? {
                    Some(merged) => *slot = merged,
                    None => {
                        original.remove(&key);
                    }
                }
            }
            None => {
                if let Some(merged) = self.merge_value(None, value, meta, child, &field_path)? {
                    original.insert(key, merged);
                }
            }
        }
        Ok(())
    }

    /// Merges a patch value into the current one; `None` means the field goes away.
    fn merge_value(
        &self,
        current: Option<Value>,
        patch: Value,
        meta: &FieldMeta,
        child: MergeSchema,
        path: &str,
    ) -> Result<Option<Value>, PatchError> {
        let replace = meta.strategy == PatchStrategy::Replace;
        match (current, patch) {
            (Some(Value::Object(current)), Value::Object(patch)) if !replace => {
                // Deleting an existing nested object leaves it empty, as upstream does.
                let merged = self.merge_map(current, patch, child, path)?;
                Ok(Some(Value::Object(merged.unwrap_or_default())))
            }
            (Some(Value::Object(_)), Value::Object(patch)) if self.mode == Mode::Combine => {
                Ok(Some(Value::Object(patch)))
            }
            (Some(Value::Array(current)), Value::Array(patch)) => {
                self.merge_list(current, patch, meta, child, path).map(|l| Some(Value::Array(l)))
            }
            // Nothing to merge with: a later patch's value lands without its markers.
            (_, patch) if self.mode == Mode::Combine => Ok(strip_markers(patch)),
            (_, Value::Object(patch)) => self.fresh_object(patch, child, path),
            (_, Value::Array(patch)) => self.fresh_list(patch, meta, child, path).map(|l| Some(Value::Array(l))),
            (_, plain) => Ok(Some(plain)),
        }
    }

    /// A patch object landing where nothing mergeable was: in apply mode its
    /// directives are carried out against an empty object.
    fn fresh_object(&self, patch: Object, schema: MergeSchema, path: &str) -> Result<Option<Value>, PatchError> {
        match self.mode {
            Mode::Combine => Ok(Some(Value::Object(patch))),
            Mode::Apply => Ok(self.merge_map(Object::new(), patch, schema, path)?.map(Value::Object)),
        }
    }

    /// A patch list landing where no list was, or replacing an atomic one.
    fn fresh_list(
        &self,
        patch: Vec<Value>,
        meta: &FieldMeta,
        schema: MergeSchema,
        path: &str,
    ) -> Result<Vec<Value>, PatchError> {
        match (self.mode, meta.strategy) {
            (Mode::Combine, _) => Ok(patch),
            (Mode::Apply, PatchStrategy::Merge) => self.merge_list(Vec::new(), patch, meta, schema, path),
            (Mode::Apply, _) => {
                let mut out = Vec::with_capacity(patch.len());
                for item in patch {
                    match item {
                        Value::Object(object) => out.extend(self.fresh_object(object, schema, path)?),
                        Value::Array(inner) => {
                            out.push(Value::Array(self.fresh_list(inner, &FieldMeta::default(), schema, path)?))
                        }
                        plain => out.push(plain),
                    }
                }
                Ok(out)
            }
        }
    }

    /// Merges two lists by the field's strategy.
    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        meta: &FieldMeta,
        schema: MergeSchema,
        path: &str,
    ) -> Result<Vec<Value>, PatchError> {
        if meta.strategy != PatchStrategy::Merge {
            return self.fresh_list(patch, meta, schema, path);
        }
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        match item_kind(&original, &patch, path)? {
            ItemKind::Plain => {
                let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
                for item in original.iter().chain(&patch) {
                    if !merged.contains(item) {
                        merged.push(item.clone());
                    }
                }
                let (in_patch, server_only) = partition(merged, &patch, Ident::Value, path)?;
                normalize(in_patch, server_only, &patch, &original, Ident::Value, path)
            }
            ItemKind::Objects => {
                let key = meta.merge_key.as_deref().ok_or_else(|| PatchError::NoMergeKey { path: show(path) })?;
                self.merge_keyed(original, patch, key, schema, path)
            }
        }
    }

    /// Merges two lists of objects by merge key, honouring `$patch` items.
    fn merge_keyed(
        &self,
        mut original: Vec<Value>,
        patch: Vec<Value>,
        key: &str,
        schema: MergeSchema,
        path: &str,
    ) -> Result<Vec<Value>, PatchError> {
        let ident = Ident::Key(key);
        let (items, replace) = self.special_items(&mut original, patch, key, path)?;
        if replace {
            // The list becomes the patch's other items.
            let items = items.into_iter().map(Value::Object).collect();
            return self.fresh_list(items, &FieldMeta::default(), schema, path);
        }
        let server_order: Vec<Value> = original.clone();
        let mut patch_order = Vec::with_capacity(items.len());
        for object in items {
            let Some(id) = object.get(key).cloned() else {
                return Err(PatchError::MissingMergeKey { path: show(path), key: key.to_owned() });
            };
            let item_at = item_path(path, key, Some(&id));
            patch_order.push(Value::Object(Object::from_iter([(key.to_owned(), id.clone())])));
            match original.iter().position(|o| o.get(key) == Some(&id)) {
                Some(i) => {
                    let merged = match std::mem::take(&mut original[i]) {
                        Value::Object(current) => self.merge_map(current, object, schema, &item_at)?,
                        _ => self.merge_map(Object::new(), object, schema, &item_at)?,
                    };
                    match merged {
                        Some(merged) => original[i] = Value::Object(merged),
                        None => {
                            original.remove(i);
                        }
                    }
                }
                None => original.extend(self.fresh_object(object, schema, &item_at)?),
            }
        }
        let (in_patch, server_only) = partition(original, &patch_order, ident, path)?;
        normalize(in_patch, server_only, &patch_order, &server_order, ident, path)
    }

    /// Carries out the `$patch` items of a keyed patch list: deletions leave
    /// `original`; answers the other items and whether the list is replaced.
    fn special_items(
        &self,
        original: &mut Vec<Value>,
        patch: Vec<Value>,
        key: &str,
        path: &str,
    ) -> Result<(Vec<Object>, bool), PatchError> {
        let mut items = Vec::with_capacity(patch.len());
        let mut replace = false;
        for item in patch {
            let Value::Object(mut object) = item else {
                return Err(PatchError::NotAnObject { path: show(path), found: describe(&item) });
            };
            let item_at = item_path(path, key, object.get(key));
            match patch_op(&object, &item_at)? {
                // Folding patches: markers stay for the server to carry out.
                Some(_) if self.mode == Mode::Combine => items.push(object),
                None => items.push(object),
                Some(PatchOp::Merge) => {
                    object.remove(PATCH);
                    items.push(object);
                }
                Some(PatchOp::Delete) => {
                    let Some(id) = object.get(key) else {
                        return Err(PatchError::MissingMergeKey { path: show(path), key: key.to_owned() });
                    };
                    original.retain(|o| o.get(key) != Some(id));
                }
                Some(PatchOp::Replace) => replace = true,
            }
        }
        Ok((items, replace))
    }

    /// Carries out (apply) or carries along (combine) a `$retainKeys` list.
    fn retain_keys(
        &self,
        original: &mut Object,
        retain: Value,
        fields: &[(String, Value)],
        path: &str,
    ) -> Result<(), PatchError> {
        if self.mode == Mode::Combine {
            return carry(original, RETAIN_KEYS.to_owned(), retain, path);
        }
        let Value::Array(list) = retain else {
            return Err(invalid(path, RETAIN_KEYS, "must be a list of field names"));
        };
        let keep: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        for (field, value) in fields {
            if !value.is_null() && !keep.contains(&field.as_str()) {
                return Err(PatchError::RetainKeysMissing { path: show(path), field: field.clone() });
            }
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
        Ok(())
    }

    /// Carries out (apply) or carries along (combine) a `$deleteFromPrimitiveList`.
    fn delete_from_list(
        &self,
        original: &mut Object,
        field: String,
        list: Value,
        path: &str,
    ) -> Result<(), PatchError> {
        let directive = format!("{DELETE_FROM_PRIMITIVE_LIST}{field}");
        if self.mode == Mode::Combine {
            // The later patch's list wins, as upstream does.
            original.insert(directive, list);
            return Ok(());
        }
        let Value::Array(remove) = list else {
            return Err(invalid(path, &directive, "must be a list"));
        };
        if let Some(Value::Array(items)) = original.get_mut(&field) {
            items.retain(|item| !remove.contains(item));
        }
        Ok(())
    }

    /// Merges a list field together with its `$setElementOrder`, then orders it.
    fn set_element_order(
        &self,
        original: &mut Object,
        field: &str,
        order: Value,
        patch_list: Option<Value>,
        schema: MergeSchema,
        path: &str,
    ) -> Result<(), PatchError> {
        let directive = format!("{SET_ELEMENT_ORDER}{field}");
        if self.mode == Mode::Combine {
            carry(original, directive.clone(), order.clone(), path)?;
        }
        let Value::Array(order) = order else {
            return Err(invalid(path, &directive, "must be a list"));
        };
        let as_list = |value: Value, what: &str| match value {
            Value::Array(list) => Ok(list),
            _ => {
                let reason = format!("goes with `{field}`, which is not a list in the {what}");
                Err(invalid(path, &directive, &reason))
            }
        };
        let patch_list = patch_list.map(|v| as_list(v, "patch")).transpose()?;
        let current = original.remove(field).map(|v| as_list(v, "object")).transpose()?;
        let field_path = join(path, field);
        if let Some(ordered) = self.ordered_list(current, patch_list, &order, schema.field(field), &field_path)? {
            original.insert(field.to_owned(), Value::Array(ordered));
        }
        Ok(())
    }

    /// Merges the live and patch lists of a field (either may be absent) and
    /// sorts the result by `order`; `None` when both are absent.
    fn ordered_list(
        &self,
        current: Option<Vec<Value>>,
        patch: Option<Vec<Value>>,
        order: &[Value],
        (meta, child): (&FieldMeta, MergeSchema),
        path: &str,
    ) -> Result<Option<Vec<Value>>, PatchError> {
        let ident = meta.merge_key.as_deref().map_or(Ident::Value, Ident::Key);
        if let Some(patch) = &patch {
            check_order(patch, order, ident, path)?;
        }
        let server_order = match (&current, &patch) {
            (Some(current), Some(patch)) if meta.strategy == PatchStrategy::Merge => {
                live_order_after_merge(current, patch, ident)
            }
            (Some(current), _) => current.clone(),
            (None, _) => Vec::new(),
        };
        let merged = match (current, patch) {
            (None, None) => return Ok(None),
            (Some(current), None) => current,
            (None, Some(patch)) if self.mode == Mode::Combine => patch.into_iter().filter_map(strip_markers).collect(),
            (None, Some(patch)) => self.fresh_list(patch, meta, child, path)?,
            (Some(current), Some(patch)) => self.merge_list(current, patch, meta, child, path)?,
        };
        let (listed, server_only) = partition(merged, order, ident, path)?;
        normalize(listed, server_only, order, &server_order, ident, path).map(Some)
    }
}

/// Copies a directive from the later patch into the earlier one; both patches
/// must agree when both carry it.
fn carry(original: &mut Object, directive: String, value: Value, path: &str) -> Result<(), PatchError> {
    match original.get(&directive) {
        Some(existing) if *existing != value => {
            Err(invalid(path, &directive, "differs between the patches being combined"))
        }
        Some(_) => Ok(()),
        None => {
            original.insert(directive, value);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        value.as_object().cloned().unwrap_or_default()
    }

    fn combine(first: Value, second: Value) -> Result<Option<Object>, PatchError> {
        let schema = MergeSchema::for_kind("apps/v1", "Deployment");
        Merger { mode: Mode::Combine }.merge_map(object(first), object(second), schema, "")
    }

    #[test]
    fn combining_patches_keeps_nulls_and_directives() {
        let deletions = json!({"spec": {"replicas": null, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "b", "$patch": "delete"}]
        }}}});
        let changes = json!({"metadata": {"labels": {"x": "1"}}, "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "image": "new"}]
        }}}});
        let combined = combine(deletions, changes).map(|m| m.map(Value::Object));
        assert_eq!(
            combined,
            Ok(Some(json!({"metadata": {"labels": {"x": "1"}}, "spec": {"replicas": null,
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "image": "new"}, {"name": "b", "$patch": "delete"}]
            }}}})))
        );
    }

    #[test]
    fn combining_patches_with_different_orders_is_an_error() {
        let first = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}]}}}});
        let second = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}]}}}});
        assert!(matches!(combine(first, second), Err(PatchError::InvalidDirective { .. })));
    }

    #[test]
    fn a_list_of_lists_cannot_be_merged() {
        let err = item_kind(&[json!([1])], &[], "spec.x");
        assert!(matches!(err, Err(PatchError::ListOfLists { .. })));
    }
}
