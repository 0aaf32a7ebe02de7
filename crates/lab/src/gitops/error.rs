//! How git failures and bad requests about repositories become errors a learner can act on.

use crate::error::Error;
use gitops_lab_protocol::{ErrorView, Text};

/// A libgit2 failure while doing `what` (English, Chinese) on `place` (a repository or URL).
pub(crate) fn git(what: (&str, &str), place: &str, error: git2::Error) -> Error {
    let (en, zh) = what;
    ErrorView::new(
        "git",
        Text::new(
            format!("Git failed while {en} ({place}): {}", error.message()),
            format!("Git 在{zh}时失败（{place}）：{}", error.message()),
        ),
    )
    .with_hint(Text::new(
        "Check that the repository exists and is not being changed by another program, then try again.",
        "请确认仓库存在且没有被其他程序同时修改，然后重试。",
    ))
    .with_detail(format!("{error:?}"))
    .into()
}

/// A repository name the lab does not keep.
pub(crate) fn unknown_repo(name: &str, known: &[&str]) -> Error {
    let list = known.join(", ");
    Error::explained(
        "unknown-repo",
        Text::new(
            format!("The lab keeps no repository named \"{name}\"."),
            format!("实验室中没有名为“{name}”的仓库。"),
        ),
        Some(Text::new(format!("Use one of: {list}."), format!("请使用以下之一：{list}。"))),
    )
}

/// A path inside a repository that is not a plain relative path.
pub(crate) fn bad_path(path: &str) -> Error {
    Error::explained(
        "bad-path",
        Text::new(
            format!("\"{path}\" is not a file path inside the repository."),
            format!("“{path}”不是仓库内的文件路径。"),
        ),
        Some(Text::new(
            "Use a relative path such as deployment.yaml or manifests/app.yaml, without \"..\" or .git.",
            "请使用相对路径，例如 deployment.yaml 或 manifests/app.yaml，不要包含“..”或 .git。",
        )),
    )
}

/// A file that is not in the repository's head commit.
pub(crate) fn no_such_file(repo: &str, path: &str) -> Error {
    Error::explained(
        "not-found",
        Text::new(
            format!("The repository \"{repo}\" has no file \"{path}\" in its latest commit."),
            format!("仓库“{repo}”的最新提交中没有文件“{path}”。"),
        ),
        Some(Text::new("The repository's file list shows what it holds.", "仓库的文件列表会显示其中的文件。")),
    )
}

/// A commit request that changes nothing.
pub(crate) fn nothing_to_commit(repo: &str) -> Error {
    Error::explained(
        "nothing-to-commit",
        Text::new(
            format!("Nothing to commit in \"{repo}\": the files already have this content."),
            format!("“{repo}”中没有可提交的内容：这些文件已经是这个内容了。"),
        ),
        Some(Text::new("Change a file's content, then commit again.", "请先修改文件内容，再提交。")),
    )
}
