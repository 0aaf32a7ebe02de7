//! Changing the image tag in a Deployment manifest the way a careful person would by hand: only the
//! characters of the tag change; comments, order, quoting and spacing stay byte for byte, and the
//! result is parsed again to prove that nothing but the image moved.

use crate::kubectl::parse;
use gitops_lab_protocol::{ErrorView, Text};
use serde_json::Value;

/// Sets the image of `container` (or the first container) of the file's Deployment to `new_image`.
/// Returns the new text and the old image.
pub fn set_image(
    text: &str,
    source: &str,
    container: Option<&str>,
    new_image: &str,
) -> Result<(String, String), Box<ErrorView>> {
    let manifests = parse(source, text).map_err(|e| Box::new(e.view()))?;
    let deployment =
        manifests.iter().find(|m| m.kind() == "Deployment").ok_or_else(|| Box::new(no_deployment(source)))?;
    let containers = deployment.object.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    let index = containers
        .and_then(|list| match container {
            Some(name) => list.iter().position(|c| c.get("name").and_then(Value::as_str) == Some(name)),
            None => (!list.is_empty()).then_some(0),
        })
        .ok_or_else(|| Box::new(no_container(source, container)))?;
    let pointer = format!("/spec/template/spec/containers/{index}/image");
    let old = deployment.object.pointer(&pointer).and_then(Value::as_str).unwrap_or_default().to_string();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let hits: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| image_value_span(l, &old).is_some()).map(|(i, _)| i).collect();
    let [line] = hits[..] else {
        return Err(Box::new(not_found_once(source, &old, hits.len())));
    };
    let (start, end) = image_value_span(lines[line], &old).unwrap_or_default();
    let mut patched: String = lines[..line].concat();
    patched.push_str(&lines[line][..start]);
    patched.push_str(new_image);
    patched.push_str(&lines[line][end..]);
    patched.push_str(&lines[line + 1..].concat());
    verify(&manifests, &patched, source, &pointer, new_image)?;
    Ok((patched, old))
}

/// Where the value `image` sits on a line `[- ]image: VALUE [# comment]` (quotes allowed), as a byte range.
fn image_value_span(line: &str, image: &str) -> Option<(usize, usize)> {
    let trimmed = line.trim_start();
    let offset = line.len() - trimmed.len();
    let key = trimmed.strip_prefix("- ").map(str::trim_start).unwrap_or(trimmed);
    let key_at = offset + (trimmed.len() - key.len());
    let after_key = key.strip_prefix("image:")?;
    let value = after_key.trim_start();
    let mut at = key_at + "image:".len() + (after_key.len() - value.len());
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
    let value = match quote {
        Some(q) => {
            at += 1;
            let inner = &value[1..];
            &inner[..inner.find(q)?]
        }
        None => value.split(" #").next().unwrap_or(value).trim_end(),
    };
    (value == image).then_some((at, at + image.len()))
}

/// Parses the new text and checks that it equals the old objects with only the image changed.
fn verify(
    before: &[crate::kubectl::Manifest],
    patched: &str,
    source: &str,
    pointer: &str,
    image: &str,
) -> Result<(), Box<ErrorView>> {
    let after = parse(source, patched).map_err(|e| Box::new(e.view()))?;
    let mut expected: Vec<Value> = before.iter().map(|m| m.object.clone()).collect();
    if let Some(deployment) = expected.iter_mut().find(|o| o.get("kind").and_then(Value::as_str) == Some("Deployment"))
        && let Some(slot) = deployment.pointer_mut(pointer)
    {
        *slot = Value::String(image.to_string());
    }
    let actual: Vec<Value> = after.into_iter().map(|m| m.object).collect();
    if actual == expected {
        Ok(())
    } else {
        Err(Box::new(ErrorView::new(
            "patch-mismatch",
            Text::new(
                format!(
                    "Changing the image in {source} would have changed more than the image; the file was left alone."
                ),
                format!("修改 {source} 中的镜像会改动镜像以外的内容；文件保持不变。"),
            ),
        )))
    }
}

fn no_deployment(source: &str) -> ErrorView {
    ErrorView::new(
        "no-deployment",
        Text::new(
            format!("{source} holds no Deployment whose image could be changed."),
            format!("{source} 中没有可以修改镜像的 Deployment。"),
        ),
    )
}

fn no_container(source: &str, name: Option<&str>) -> ErrorView {
    let name = name.unwrap_or("(the first)");
    ErrorView::new(
        "no-container",
        Text::new(
            format!("The Deployment in {source} has no container {name}."),
            format!("{source} 中的 Deployment 没有容器 {name}。"),
        ),
    )
}

fn not_found_once(source: &str, image: &str, count: usize) -> ErrorView {
    ErrorView::new(
        "image-line",
        Text::new(
            format!(
                "Expected exactly one line \"image: {image}\" in {source}, found {count}; the file was left alone."
            ),
            format!("{source} 中应当恰好有一行“image: {image}”，实际找到 {count} 行；文件保持不变。"),
        ),
    )
    .with_hint(Text::new(
        "Write the image on one line of its own (image: NAME:TAG), as the template does.",
        "请把镜像单独写在一行（image: 名称:标签），和模板中一样。",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# keep me\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # the name\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: sidecar\n          image: \"busybox:1.36\"\n        - image: gitops-lab/sample-app:v0.1.0   # CI sets this\n          name: app\n";

    #[test]
    fn only_the_tag_changes_and_comments_and_order_stay() {
        let (patched, old) = set_image(FILE, "d.yaml", Some("app"), "gitops-lab/sample-app:abc1234").unwrap();
        assert_eq!(old, "gitops-lab/sample-app:v0.1.0");
        assert_eq!(patched, FILE.replace("sample-app:v0.1.0", "sample-app:abc1234"));
    }

    #[test]
    fn a_quoted_image_keeps_its_quotes() {
        let (patched, _) = set_image(FILE, "d.yaml", Some("sidecar"), "busybox:1.37").unwrap();
        assert_eq!(patched, FILE.replace("\"busybox:1.36\"", "\"busybox:1.37\""));
    }

    #[test]
    fn an_image_written_twice_is_refused_rather_than_guessed() {
        let twice = FILE.replace("busybox:1.36", "gitops-lab/sample-app:v0.1.0");
        let error = set_image(&twice, "d.yaml", Some("app"), "x:y").unwrap_err();
        assert_eq!(error.code, "image-line");
    }

    #[test]
    fn a_file_without_a_deployment_or_that_container_is_explained() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        assert_eq!(set_image(cm, "c.yaml", None, "x").unwrap_err().code, "no-deployment");
        assert_eq!(set_image(FILE, "d.yaml", Some("nope"), "x").unwrap_err().code, "no-container");
    }
}
