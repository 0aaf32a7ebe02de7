//! `kubectl get` (the server's tables, `-o yaml|json|name|wide`) and `kubectl logs`.

use super::Kubectl;
use super::output::{CommandOutput, record_kube_error};
use super::rest::Target;
use crate::error::Result;
use serde_json::Value;

/// How `get` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GetFormat {
    /// The table.
    #[default]
    Table,
    /// The table with every column.
    Wide,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
    /// `kind.group/name` per line.
    Name,
}

impl Kubectl {
    /// `kubectl get TYPE [NAME…]` in a namespace (or all of them).
    pub async fn get(
        &self,
        kind: &str,
        names: &[String],
        namespace: Option<&str>,
        all_namespaces: bool,
        format: GetFormat,
    ) -> CommandOutput {
        let mut output = CommandOutput::default();
        if let Err(error) = self.get_into(kind, names, namespace, all_namespaces, format, &mut output).await {
            match error {
                crate::Error::Kube(error) => record_kube_error(&mut output, &error, None),
                other => output.fail_with(&other),
            }
        }
        output
    }

    async fn get_into(
        &self,
        kind: &str,
        names: &[String],
        namespace: Option<&str>,
        all_namespaces: bool,
        format: GetFormat,
        output: &mut CommandOutput,
    ) -> Result<()> {
        // `get TYPE/NAME…`: one lookup per argument.
        if kind.contains('/') {
            for arg in std::iter::once(kind.to_string()).chain(names.iter().cloned()) {
                let (kind, name) = arg.split_once('/').unwrap_or((&arg, ""));
                Box::pin(self.get_into(kind, &[name.to_string()], namespace, all_namespaces, format, output)).await?;
            }
            return Ok(());
        }
        self.get_type(kind, names, namespace, all_namespaces, format, output).await
    }

    async fn get_type(
        &self,
        kind: &str,
        names: &[String],
        namespace: Option<&str>,
        all_namespaces: bool,
        format: GetFormat,
        output: &mut CommandOutput,
    ) -> Result<()> {
        let mut target = self.target_of(kind, "", namespace).await?;
        if all_namespaces {
            target.namespace = None;
        }
        let paths: Vec<String> = if names.is_empty() {
            vec![target.collection_path()]
        } else {
            names.iter().map(|n| Target { name: n.clone(), ..target.clone() }.item_path()).collect()
        };
        match format {
            GetFormat::Table | GetFormat::Wide => {
                let mut tables = Vec::new();
                for path in &paths {
                    tables.push(self.fetch(path, TABLE).await?);
                }
                let text = render_tables(&tables, format == GetFormat::Wide, all_namespaces);
                if text.is_empty() {
                    let ns = target.namespace.clone().unwrap_or_default();
                    output.warn(if ns.is_empty() {
                        "No resources found".to_string()
                    } else {
                        format!("No resources found in {ns} namespace.")
                    });
                } else {
                    output.stdout.push_str(&text);
                }
            }
            _ => {
                let mut objects = Vec::new();
                for path in &paths {
                    let value = self.fetch(path, "application/json").await?;
                    match value.get("items").and_then(Value::as_array) {
                        Some(items) if names.is_empty() => objects.extend(items.iter().cloned()),
                        _ => objects.push(value),
                    }
                }
                for object in &mut objects {
                    hide_managed_fields(object);
                }
                output.stdout.push_str(&render_objects(objects, names.len() == 1, format, &target));
            }
        }
        Ok(())
    }

    async fn fetch(&self, path: &str, accept: &str) -> Result<Value> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(kube::Error::HttpError)?;
        Ok(self.client.request::<Value>(request).await?)
    }

    /// `kubectl logs POD [-c CONTAINER]`.
    pub async fn logs(&self, pod: &str, container: Option<&str>, namespace: Option<&str>) -> CommandOutput {
        let mut output = CommandOutput::default();
        let ns = namespace.unwrap_or(&self.default_namespace);
        let api: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(self.client.clone(), ns);
        let params = kube::api::LogParams { container: container.map(String::from), ..Default::default() };
        match api.logs(pod, &params).await {
            Ok(text) => output.stdout.push_str(&text),
            Err(error) => record_kube_error(&mut output, &error, None),
        }
        output
    }
}

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// Removes `metadata.managedFields`, as kubectl does unless `--show-managed-fields`.
pub fn hide_managed_fields(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

fn render_objects(objects: Vec<Value>, single: bool, format: GetFormat, target: &Target) -> String {
    if format == GetFormat::Name {
        return objects
            .iter()
            .map(|o| {
                let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                format!("{}\n", Target { name: name.into(), ..target.clone() }.kubectl_name())
            })
            .collect();
    }
    let value = if single && objects.len() == 1 {
        objects.into_iter().next().unwrap_or_default()
    } else {
        serde_json::json!({"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}})
    };
    match format {
        GetFormat::Json => format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()),
        _ => to_yaml(&value),
    }
}

/// YAML as kubectl prints it.
pub fn to_yaml(value: &Value) -> String {
    super::yaml::to_kubectl_yaml(value)
}

/// Renders the server's tables as kubectl does: upper-case headers, columns padded, three spaces apart.
pub fn render_tables(tables: &[Value], wide: bool, with_namespace: bool) -> String {
    let Some(first) = tables.first() else { return String::new() };
    let columns: Vec<(usize, String)> = first
        .get("columnDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| wide || c.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0)
        .map(|(i, c)| (i, c.get("name").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase()))
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for table in tables {
        for row in table.get("rows").and_then(Value::as_array).into_iter().flatten() {
            let cells = row.get("cells").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut line: Vec<String> = columns.iter().map(|(i, _)| cell_text(cells.get(*i))).collect();
            if with_namespace {
                let ns = row.pointer("/object/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
                line.insert(0, ns.to_string());
            }
            rows.push(line);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut header: Vec<String> = columns.into_iter().map(|(_, name)| name).collect();
    if with_namespace {
        header.insert(0, "NAMESPACE".into());
    }
    let all: Vec<&Vec<String>> = std::iter::once(&header).chain(rows.iter()).collect();
    let widths: Vec<usize> =
        (0..header.len()).map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn cell_text(cell: Option<&Value>) -> String {
    match cell {
        None | Some(Value::Null) => "<none>".into(),
        Some(Value::String(s)) if s.is_empty() => "<none>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_are_padded_three_spaces_apart_and_hide_wide_columns() {
        let table = json!({"columnDefinitions": [{"name": "Name", "priority": 0}, {"name": "Ready", "priority": 0}, {"name": "IP", "priority": 1}],
            "rows": [{"cells": ["nginx", "1/1", "10.0.0.1"]}, {"cells": ["a-much-longer-name", "0/1", "10.0.0.2"]}]});
        assert_eq!(
            render_tables(std::slice::from_ref(&table), false, false),
            "NAME                 READY\nnginx                1/1\na-much-longer-name   0/1\n"
        );
        assert!(render_tables(&[table], true, false).starts_with("NAME                 READY   IP\n"));
    }
}
