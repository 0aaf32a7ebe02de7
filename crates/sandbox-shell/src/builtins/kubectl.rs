//! `kubectl` inside a container: forwarded to the cluster client with the files `-f` names read
//! from the container's filesystem.

use super::Call;
use crate::interp::Shell;

/// The values of `-f X`, `-fX`, `--filename X`, `--filename=X`.
fn file_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-f" | "--filename" => out.extend(iter.next().cloned()),
            a if a.starts_with("--filename=") => out.push(a["--filename=".len()..].to_string()),
            a if a.starts_with("-f") && a.len() > 2 && !a.starts_with("--") => out.push(a[2..].to_string()),
            _ => {}
        }
    }
    out
}

/// Manifest files of a directory (recursively with `-R`), sorted, as kubectl picks them.
fn manifests(sh: &Shell, dir: &str, shown: &str, recursive: bool, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in sh.ctx.fs.list(dir).unwrap_or_default() {
        let path = format!("{}/{}", dir.trim_end_matches('/'), entry.name);
        let shown = format!("{}/{}", shown.trim_end_matches('/'), entry.name);
        if entry.is_dir {
            if recursive {
                manifests(sh, &path, &shown, recursive, out);
            }
        } else if [".yaml", ".yml", ".json"].iter().any(|ext| entry.name.ends_with(ext))
            && let Ok(bytes) = sh.ctx.fs.read(&path)
        {
            out.push((shown, bytes));
        }
    }
}

pub(crate) async fn kubectl(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(client) = sh.ctx.cluster.clone() else { return 127 };
    let args = c.args[1..].to_vec();
    let recursive = args.iter().any(|a| a == "-R" || a == "--recursive");
    let mut files = Vec::new();
    for name in file_args(&args) {
        if name == "-" {
            files.push(("-".to_string(), c.stdin.read_all().await));
            continue;
        }
        if name.starts_with("http://") || name.starts_with("https://") {
            continue;
        }
        let path = sh.abs(&name);
        match sh.ctx.fs.is_dir(&path) {
            Some(true) => manifests(sh, &path, &name, recursive, &mut files),
            Some(false) => files.extend(sh.ctx.fs.read(&path).ok().map(|b| (name.clone(), b))),
            None => {
                c.err(format!("error: the path \"{name}\" does not exist\n")).await;
                return 1;
            }
        }
    }
    let (code, stdout, stderr) = client.kubectl(args, files).await;
    c.out(stdout).await;
    c.err(stderr).await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_filename_flag_is_found() {
        let args: Vec<String> = ["apply", "-f", "a.yaml", "--filename=b", "-fc.yaml", "--filename", "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(file_args(&args), ["a.yaml", "b", "c.yaml", "d"]);
    }
}
