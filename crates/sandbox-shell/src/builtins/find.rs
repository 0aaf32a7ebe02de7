//! `find PATH… [-name GLOB] [-iname GLOB] [-type f|d] [-maxdepth N] [-mindepth N] [-print]
//! [-exec CMD {} ;|+]`: predicates are ANDed, as in the common uses.

use super::Call;
use crate::expand::glob_match_name;
use crate::interp::Shell;

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Name(String, bool),
    Type(bool),
}

#[derive(Debug, Default)]
struct Query {
    roots: Vec<String>,
    tests: Vec<Test>,
    min_depth: usize,
    max_depth: Option<usize>,
    /// `-exec` commands: the argument template and whether they batch (`+`).
    execs: Vec<(Vec<String>, bool)>,
    print: bool,
}

fn parse(args: &[String]) -> Result<Query, String> {
    let mut query = Query::default();
    let mut i = 0;
    while i < args.len() && !args[i].starts_with('-') && args[i] != "!" && args[i] != "(" {
        query.roots.push(args[i].clone());
        i += 1;
    }
    if query.roots.is_empty() {
        query.roots.push(".".into());
    }
    while i < args.len() {
        let arg = args[i].as_str();
        let value = || args.get(i + 1).cloned().ok_or_else(|| format!("{arg}: requires an argument"));
        match arg {
            "-name" | "-iname" => query.tests.push(Test::Name(value()?, arg == "-iname")),
            "-type" => match value()?.as_str() {
                "f" => query.tests.push(Test::Type(false)),
                "d" => query.tests.push(Test::Type(true)),
                other => return Err(format!("unknown argument to -type: {other}")),
            },
            "-maxdepth" => query.max_depth = Some(value()?.parse().map_err(|_| "-maxdepth: bad number".to_string())?),
            "-mindepth" => query.min_depth = value()?.parse().map_err(|_| "-mindepth: bad number".to_string())?,
            "-print" => {
                query.print = true;
                i += 1;
                continue;
            }
            "-exec" => {
                let end = args[i + 1..].iter().position(|a| a == ";" || a == "+").ok_or("-exec: missing ';'")?;
                let template = args[i + 1..i + 1 + end].to_vec();
                let batch = args[i + 1 + end] == "+";
                if template.is_empty() {
                    return Err("-exec: no command".into());
                }
                query.execs.push((template, batch));
                i += end + 2;
                continue;
            }
            other => return Err(format!("unrecognized: {other}")),
        }
        i += 2;
    }
    Ok(query)
}

impl Query {
    fn matches(&self, name: &str, is_dir: bool, depth: usize) -> bool {
        depth >= self.min_depth
            && self.tests.iter().all(|t| match t {
                Test::Name(glob, false) => glob_match_name(glob, name),
                Test::Name(glob, true) => glob_match_name(&glob.to_lowercase(), &name.to_lowercase()),
                Test::Type(dir) => *dir == is_dir,
            })
    }
}

/// Every path under `root` (itself first), with whether it is a directory and its depth.
fn walk(sh: &Shell, root: &str, shown: &str, depth: usize, max: Option<usize>, out: &mut Vec<(String, bool, usize)>) {
    let path = sh.abs(root);
    let Some(is_dir) = sh.ctx.fs.is_dir(&path) else { return };
    out.push((shown.to_string(), is_dir, depth));
    if !is_dir || max.is_some_and(|m| depth >= m) {
        return;
    }
    for entry in sh.ctx.fs.list(&path).unwrap_or_default() {
        let child_shown =
            if shown.ends_with('/') { format!("{shown}{}", entry.name) } else { format!("{shown}/{}", entry.name) };
        walk(sh, &format!("{path}/{}", entry.name), &child_shown, depth + 1, max, out);
    }
}

fn fill(template: &[String], paths: &[String]) -> Vec<String> {
    let mut argv = Vec::new();
    for arg in template {
        if arg == "{}" {
            argv.extend(paths.iter().cloned());
        } else {
            argv.push(arg.replace("{}", paths.first().map(String::as_str).unwrap_or("")));
        }
    }
    argv
}

pub(crate) async fn find(sh: &mut Shell, c: &mut Call) -> i32 {
    let query = match parse(&c.args[1..]) {
        Ok(q) => q,
        Err(message) => return c.fail(message).await,
    };
    let mut status = 0;
    let mut found = Vec::new();
    for root in &query.roots {
        if sh.ctx.fs.is_dir(&sh.abs(root)).is_none() {
            c.err(format!("find: {root}: No such file or directory\n")).await;
            status = 1;
            continue;
        }
        walk(sh, root, root, 0, query.max_depth, &mut found);
    }
    let mut batches: Vec<Vec<String>> = vec![Vec::new(); query.execs.len()];
    let streams = c.streams();
    for (path, is_dir, depth) in found {
        let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or(&path).to_string();
        if !query.matches(&name, is_dir, depth) {
            continue;
        }
        if query.print || query.execs.is_empty() {
            c.out(format!("{path}\n")).await;
        }
        for (i, (template, batch)) in query.execs.iter().enumerate() {
            if *batch {
                batches[i].push(path.clone());
            } else {
                // As upstream find, the status of `-exec … ;` only decides the predicate's truth:
                // it never changes find's own exit status.
                sh.exec_argv(fill(template, std::slice::from_ref(&path)), &streams).await;
            }
        }
    }
    for ((template, _), paths) in query.execs.iter().zip(batches) {
        if !paths.is_empty() && sh.exec_argv(fill(template, &paths), &streams).await != 0 {
            // With `+`, a failing command does make find fail.
            status = 1;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn queries_collect_roots_tests_and_exec_templates() {
        let q =
            parse(&strings(&["/repo", "-name", "*.yaml", "-type", "f", "-exec", "kubectl", "apply", "-f", "{}", ";"]))
                .unwrap();
        assert_eq!(q.roots, ["/repo"]);
        assert_eq!(q.tests, vec![Test::Name("*.yaml".into(), false), Test::Type(false)]);
        assert_eq!(q.execs, vec![(strings(&["kubectl", "apply", "-f", "{}"]), false)]);
        assert!(parse(&strings(&["-exec", "echo"])).is_err());
        assert!(parse(&strings(&["-bogus"])).is_err());
    }

    #[test]
    fn exec_templates_take_one_path_or_a_batch() {
        assert_eq!(fill(&strings(&["cat", "{}"]), &strings(&["a", "b"])), ["cat", "a", "b"]);
        assert_eq!(fill(&strings(&["echo", "x{}y"]), &strings(&["a"])), ["echo", "xay"]);
    }
}
