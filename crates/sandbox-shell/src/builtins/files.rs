//! File commands over the container's filesystem: cat, ls, mkdir, rm, cp, mv, touch, df.

use super::{Call, Flags};
use crate::interp::Shell;
use crate::redirect::reason;
use crate::vfs::{Entry, Filesystem};

async fn flags(c: &Call, valued: &str) -> Option<Flags> {
    match Flags::parse(&c.args[1..], valued) {
        Ok(flags) => Some(flags),
        Err(message) => {
            c.fail(message).await;
            None
        }
    }
}

pub(crate) async fn cat(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = flags(c, "").await else { return 1 };
    // Standard input alone is copied as it comes (an attached `cat` echoes each line at once).
    if flags.operands.is_empty() {
        while let Some(chunk) = c.stdin.read_chunk().await {
            c.out(chunk).await;
        }
        return 0;
    }
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    for (_, bytes) in inputs {
        c.out(bytes).await;
    }
    i32::from(!ok)
}

fn permissions(is_dir: bool) -> &'static str {
    if is_dir { "drwxr-xr-x" } else { "-rw-r--r--" }
}

fn long_line(entry: &Entry, when: &str) -> String {
    let size = if entry.is_dir { 4096 } else { entry.size };
    format!(
        "{}    {} root     root     {size:>9} {when} {}\n",
        permissions(entry.is_dir),
        if entry.is_dir { 2 } else { 1 },
        entry.name
    )
}

/// `ls [-la1A] [paths…]`.
pub(crate) async fn ls(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = flags(c, "").await else { return 1 };
    let operands = if flags.operands.is_empty() { vec![".".to_string()] } else { flags.operands.clone() };
    let when = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%b %e %H:%M").to_string();
    let (long, all, almost) = (flags.has('l'), flags.has('a'), flags.has('A'));
    let mut status = 0;
    let mut out = String::new();
    let (dirs, files): (Vec<&String>, Vec<&String>) =
        operands.iter().partition(|p| sh.ctx.fs.is_dir(&sh.abs(p)) == Some(true));
    for file in &files {
        match sh.ctx.fs.read(&sh.abs(file)) {
            Ok(bytes) => {
                let entry = Entry { name: file.to_string(), is_dir: false, size: bytes.len() };
                out.push_str(&if long { long_line(&entry, &when) } else { format!("{file}\n") });
            }
            Err(e) => {
                c.err(format!("ls: {file}: {}\n", reason(&e))).await;
                status = 1;
            }
        }
    }
    for (i, dir) in dirs.iter().enumerate() {
        if operands.len() > 1 {
            out.push_str(&format!("{}{dir}:\n", if i > 0 || !files.is_empty() { "\n" } else { "" }));
        }
        let mut entries = sh.ctx.fs.list(&sh.abs(dir)).unwrap_or_default();
        entries.retain(|e| all || almost || !e.name.starts_with('.'));
        if all {
            let dot = |name: &str| Entry { name: name.into(), is_dir: true, size: 0 };
            entries.splice(0..0, [dot("."), dot("..")]);
        }
        for entry in entries {
            out.push_str(&if long { long_line(&entry, &when) } else { format!("{}\n", entry.name) });
        }
    }
    c.out(out).await;
    status
}

pub(crate) async fn mkdir(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = flags(c, "m").await else { return 1 };
    let mut status = 0;
    for dir in &flags.operands {
        let path = sh.abs(dir);
        let parent = parent_of(&path);
        let problem = match (sh.ctx.fs.is_dir(&path), sh.ctx.fs.is_dir(&parent)) {
            (Some(_), _) if !flags.has('p') => Some("File exists"),
            (Some(false), _) => Some("File exists"),
            (None, None) if !flags.has('p') => Some("No such file or directory"),
            _ => None,
        };
        let result = match problem {
            Some(why) => Err(why.to_string()),
            None => sh.ctx.fs.mkdir(&path).map_err(|e| reason(&e).to_string()),
        };
        if let Err(why) = result {
            c.err(format!("mkdir: can't create directory '{dir}': {why}\n")).await;
            status = 1;
        }
    }
    status
}

fn parent_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((parent, _)) => parent.into(),
    }
}

fn base_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

pub(crate) async fn rm(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = flags(c, "").await else { return 1 };
    let (recursive, force) = (flags.has('r') || flags.has('R'), flags.has('f'));
    let mut status = 0;
    for target in &flags.operands {
        let path = sh.abs(target);
        let message = match sh.ctx.fs.is_dir(&path) {
            None if force => continue,
            None => format!("rm: can't remove '{target}': No such file or directory\n"),
            Some(true) if !recursive => format!("rm: '{target}' is a directory\n"),
            Some(_) => match sh.ctx.fs.remove(&path, recursive) {
                Ok(()) => continue,
                Err(e) => format!("rm: can't remove '{target}': {}\n", reason(&e)),
            },
        };
        c.err(message).await;
        status = 1;
    }
    status
}

pub(crate) async fn rmdir(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut status = 0;
    let dirs = c.args[1..].to_vec();
    for dir in &dirs {
        let path = sh.abs(dir);
        let result = match sh.ctx.fs.is_dir(&path) {
            Some(true) => sh.ctx.fs.remove(&path, false).map_err(|e| reason(&e)),
            Some(false) => Err("Not a directory"),
            None => Err("No such file or directory"),
        };
        if let Err(why) = result {
            c.err(format!("rmdir: '{dir}': {why}\n")).await;
            status = 1;
        }
    }
    status
}

/// Copies a file or (recursively) a directory tree.
pub(crate) fn copy_tree(fs: &Filesystem, from: &str, to: &str) -> Result<(), String> {
    match fs.is_dir(from) {
        Some(true) => {
            fs.mkdir(to).map_err(|e| e.to_string())?;
            for entry in fs.list(from).map_err(|e| e.to_string())? {
                copy_tree(
                    fs,
                    &format!("{from}/{}", entry.name),
                    &format!("{}/{}", to.trim_end_matches('/'), entry.name),
                )?;
            }
            Ok(())
        }
        Some(false) => {
            let bytes = fs.read(from).map_err(|e| e.to_string())?;
            fs.write(to, bytes, false).map_err(|e| e.to_string())
        }
        None => Err(format!("{from}: No such file or directory")),
    }
}

/// Sources and the destination of `cp`/`mv`, with the destination resolved into a directory.
fn plan(sh: &Shell, operands: &[String]) -> Result<Vec<(String, String, String)>, String> {
    let Some((dest, sources)) = operands.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err("missing file operand".into());
    };
    let dest_path = sh.abs(dest);
    let into_dir = sh.ctx.fs.is_dir(&dest_path) == Some(true);
    if sources.len() > 1 && !into_dir {
        return Err(format!("'{dest}' is not a directory"));
    }
    Ok(sources
        .iter()
        .map(|s| {
            let to = if into_dir {
                format!("{}/{}", dest_path.trim_end_matches('/'), base_of(s))
            } else {
                dest_path.clone()
            };
            (s.clone(), sh.abs(s), to)
        })
        .collect())
}

async fn copy_or_move(sh: &mut Shell, c: &mut Call, remove: bool) -> i32 {
    let Some(flags) = flags(c, "").await else { return 1 };
    let steps = match plan(sh, &flags.operands) {
        Ok(steps) => steps,
        Err(message) => return c.fail(message).await,
    };
    let mut status = 0;
    for (shown, from, to) in steps {
        let result = match sh.ctx.fs.is_dir(&from) {
            Some(true) if !(remove || flags.has('r') || flags.has('R') || flags.has('a')) => {
                Err(format!("omitting directory '{shown}'"))
            }
            None => Err(format!("can't stat '{shown}': No such file or directory")),
            _ => copy_tree(&sh.ctx.fs, &from, &to)
                .and_then(|()| if remove { sh.ctx.fs.remove(&from, true).map_err(|e| e.to_string()) } else { Ok(()) }),
        };
        if let Err(message) = result {
            status = c.fail(message).await;
        }
    }
    status
}

pub(crate) async fn cp(sh: &mut Shell, c: &mut Call) -> i32 {
    copy_or_move(sh, c, false).await
}

pub(crate) async fn mv(sh: &mut Shell, c: &mut Call) -> i32 {
    copy_or_move(sh, c, true).await
}

pub(crate) async fn touch(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut status = 0;
    let files: Vec<String> = c.args[1..].iter().filter(|a| !a.starts_with('-')).cloned().collect();
    for file in &files {
        let path = sh.abs(file);
        if sh.ctx.fs.is_dir(&path).is_some() {
            continue;
        }
        if let Err(e) = sh.ctx.fs.write(&path, Vec::new(), true) {
            c.err(format!("touch: {file}: {}\n", reason(&e))).await;
            status = 1;
        }
    }
    status
}

/// Bytes stored under a path of the filesystem.
fn usage(fs: &Filesystem, path: &str) -> u64 {
    fs.list(path)
        .unwrap_or_default()
        .iter()
        .map(
            |e| if e.is_dir { usage(fs, &format!("{}/{}", path.trim_end_matches('/'), e.name)) } else { e.size as u64 },
        )
        .sum()
}

/// `df [-h]`: the root overlay, the usual tmpfs mounts, and the pod's volumes.
pub(crate) async fn df(sh: &mut Shell, c: &mut Call) -> i32 {
    let human = c.args.iter().any(|a| a.starts_with('-') && a.contains('h'));
    const GIB: u64 = 1 << 30;
    let disk = 62 * GIB;
    let mut rows: Vec<(String, u64, u64, String)> = vec![
        ("overlay".into(), disk, 9 * GIB, "/".into()),
        ("tmpfs".into(), 64 << 20, 0, "/dev".into()),
        ("shm".into(), 64 << 20, 0, "/dev/shm".into()),
    ];
    let mut mounts = sh.ctx.fs.mount_points();
    mounts.sort();
    for (path, read_only) in mounts {
        // Secrets and projected tokens live in memory; other volumes on the node's disk.
        let device = if read_only && path.contains("secrets") { "tmpfs" } else { "/dev/vda1" };
        let size = if device == "tmpfs" { 7 * GIB } else { disk };
        rows.push((
            device.into(),
            size,
            usage(&sh.ctx.fs, &path).max(if device == "tmpfs" { 0 } else { 9 * GIB }),
            path,
        ));
    }
    let mut out = format!(
        "{:<20} {:>9} {:>9} {:>9} {:>4} Mounted on\n",
        "Filesystem",
        if human { "Size" } else { "1K-blocks" },
        "Used",
        "Available",
        "Use%"
    );
    for (device, size, used, path) in rows {
        let show = |n: u64| if human { human_size(n) } else { (n / 1024).to_string() };
        let percent = if size == 0 { 0 } else { (used * 100).div_ceil(size) };
        out.push_str(&format!(
            "{device:<20} {:>9} {:>9} {:>9} {:>3}% {path}\n",
            show(size),
            show(used),
            show(size.saturating_sub(used)),
            percent
        ));
    }
    c.out(out).await;
    0
}

fn human_size(n: u64) -> String {
    const UNITS: &[&str] = &["", "K", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => n.to_string(),
        _ => format!("{value:.1}{}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_use_binary_units_with_one_decimal() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(64 << 20), "64.0M");
        assert_eq!(human_size(62 << 30), "62.0G");
    }

    #[test]
    fn parents_and_bases_of_paths() {
        assert_eq!(parent_of("/data"), "/");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(base_of("dir/file.txt"), "file.txt");
        assert_eq!(base_of("dir/"), "dir");
    }
}
