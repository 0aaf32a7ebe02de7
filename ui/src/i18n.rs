//! Every string of the UI in English and Simplified Chinese: a typed table that fails to compile
//! when a translation is missing.
//!
//! The table is data: one line per string, `Key => "English", "中文";`. The `strings!` macro turns
//! it into the enum [`S`] and its lookup; an entry without its Chinese text does not match the
//! macro's pattern, so the crate does not build. Text that comes from the engine already carries
//! both languages ([`crate::protocol::Text`]); this table is only the UI's own chrome.

use crate::protocol::Language;

macro_rules! strings {
    ($($key:ident => $en:literal, $zh:literal;)*) => {
        /// A UI string; its English text is its documentation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum S {
            $(#[doc = $en] $key,)*
        }

        impl S {
            /// Every string, for the completeness tests.
            pub const ALL: &'static [S] = &[$(S::$key),*];

            /// The string in a language.
            pub fn get(self, language: Language) -> &'static str {
                match (self, language) {
                    $((S::$key, Language::English) => $en,
                      (S::$key, Language::Chinese) => $zh,)*
                }
            }
        }
    };
}

impl S {
    /// The string with each `{}` replaced, in order, by one of `args`.
    pub fn fill(self, language: Language, args: &[&str]) -> String {
        let mut out = String::new();
        let mut args = args.iter();
        let mut parts = self.get(language).split("{}");
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        for part in parts {
            out.push_str(args.next().copied().unwrap_or(""));
            out.push_str(part);
        }
        out
    }
}

strings! {
    // The frame: title, language, theme, connection banner.
    AppTitle => "GitOps Lab", "GitOps 实验室";
    Language => "Language", "语言";
    LanguageName => "English", "中文";
    SwitchLanguage => "切换到中文", "Switch to English";
    Theme => "Theme", "主题";
    ThemeSystem => "Follow the system", "跟随系统";
    ThemeLight => "Light", "浅色";
    ThemeDark => "Dark", "深色";
    SkipToContent => "Skip to the content", "跳到正文";
    LinkLost => "The connection to the lab was lost. Reconnecting…", "与实验室的连接已断开，正在重新连接……";
    LinkBack => "Connected to the lab again.", "已重新连接到实验室。";
    Loading => "Loading…", "加载中……";
    Working => "Working…", "处理中……";
    Cancel => "Cancel", "取消";
    Close => "Close", "关闭";
    Refresh => "Refresh", "刷新";
    Copy => "Copy", "复制";
    Copied => "Copied", "已复制";
    Hint => "What to do", "建议";
    Details => "Details", "详细信息";
    Version => "Version {}", "版本 {}";
    Dismiss => "Dismiss", "关闭提示";
    // The cluster bar.
    Cluster => "Cluster", "集群";
    ClusterStatus => "Cluster status", "集群状态";
    PhaseDisconnected => "Not connected", "未连接";
    PhaseConnecting => "Connecting", "正在连接";
    PhaseConnected => "Connected", "已连接";
    PhaseReconnecting => "Reconnecting", "正在重新连接";
    PhaseFailed => "Cannot reach the cluster", "无法连接集群";
    Unavailable => "(not available)", "（不可用）";
    MinikubeStart => "Start minikube", "启动 minikube";
    MinikubeStop => "Stop minikube", "停止 minikube";
    MinikubeDelete => "Delete minikube", "删除 minikube";
    OperationProgress => "Progress", "进度";
    OperationDone => "Finished", "已完成";
    OperationCancelled => "Cancelled", "已取消";
    // Navigation.
    MainNavigation => "Main navigation", "主导航";
    Chapter => "Chapter 2", "第 2 章";
    Exercises => "Exercises", "练习";
    NoExercises => "No exercises yet.", "暂时没有练习。";
    StepsDone => "{} of {} steps", "已完成 {} / {} 步";
    StatusNotStarted => "not started", "未开始";
    StatusInProgress => "in progress", "进行中";
    StatusCompleted => "completed", "已完成";
    Reset => "Reset", "重置";
    ResetConfirm => "Reset this exercise? What it created in the cluster is deleted.", "要重置此练习吗？它在集群中创建的对象将被删除。";
    Resume => "Resume where you left off", "从上次离开的地方继续";
    ScreenLive => "Live cluster", "实时集群";
    ScreenDiff => "Diff and apply", "差异与应用";
    ScreenGitOps => "GitOps", "GitOps";
    ScreenCi => "CI pipeline", "CI 流水线";
    Welcome => "Welcome! Pick an exercise on the left to start. Every step shows the kubectl command you could type instead.", "欢迎！请在左侧选择一个练习开始。每一步都会显示你也可以自己输入的 kubectl 命令。";
    // The step view.
    Step => "Step {}", "第 {} 步";
    StepList => "Steps", "步骤";
    Previous => "Previous step", "上一步";
    Next => "Next step", "下一步";
    Run => "Run", "运行";
    Equivalent => "The same with kubectl", "等价的 kubectl 命令";
    TypeIt => "Or type it yourself", "或者自己输入";
    KubectlLine => "kubectl command line", "kubectl 命令行";
    Output => "Output", "输出";
    Checks => "Checks", "检查项";
    CheckMet => "met", "已满足";
    CheckPending => "not yet", "尚未满足";
    StepDone => "Step done", "本步已完成";
    ShowHint => "Show a hint", "显示提示";
    ShowSolution => "Show the solution", "显示答案";
    Predict => "Predict, then run", "先预测，再运行";
    Answer => "Check my answer", "核对答案";
    Right => "Right!", "答对了！";
    Wrong => "Not quite.", "不太对。";
    Files => "Files", "文件";
    OpenTerminal => "Open the terminal", "打开终端";
    // Live views.
    LiveViews => "Live views", "实时视图";
    TabTree => "Resources", "资源";
    TabEvents => "Events", "事件";
    TabLogs => "Logs", "日志";
    TabYaml => "YAML", "YAML";
    TabTerminal => "Terminal", "终端";
    TabPorts => "Port-forwards", "端口转发";
    Namespaces => "Namespaces", "命名空间";
    Watch => "Watch", "监视";
    EmptyTree => "Nothing in these namespaces yet.", "这些命名空间中还没有对象。";
    ResourceTree => "Resources by owner", "按属主排列的资源";
    SelectedBy => "selected by {}", "被 {} 选中";
    ShowYaml => "YAML", "YAML";
    ShowLogs => "Logs", "日志";
    Shell => "Shell", "Shell";
    Forward => "Forward port", "转发端口";
    Port => "Port", "端口";
    NoEvents => "No events yet.", "还没有事件。";
    Follow => "Follow", "跟随";
    Stop => "Stop", "停止";
    Pod => "Pod", "Pod";
    PickPod => "Pick a pod in the resource tree first.", "请先在资源树中选择一个 Pod。";
    PickObject => "Pick an object in the resource tree first.", "请先在资源树中选择一个对象。";
    StreamEnded => "The stream ended: {}", "数据流已结束：{}";
    TerminalInput => "Terminal input", "终端输入";
    NoPortForwards => "No port-forwards. Start one from a pod or deployment in the resource tree.", "没有端口转发。可以在资源树中的 Pod 或 Deployment 上启动。";
    PfActive => "active", "运行中";
    PfRetargeting => "switching to another pod", "正在切换到另一个 Pod";
    PfStopped => "stopped", "已停止";
    HealthHealthy => "healthy", "健康";
    HealthProgressing => "progressing", "进行中";
    HealthDegraded => "degraded", "降级";
    HealthFailed => "failed", "失败";
    HealthTerminating => "terminating", "正在终止";
    HealthUnknown => "no health", "无健康状态";
    Resync => "Catching up with the cluster…", "正在与集群重新同步……";
    // The diff view.
    Manifest => "Manifest", "清单";
    SourceName => "File name", "文件名";
    Diff => "Diff", "比较差异";
    Apply => "Apply", "应用";
    SideBySide => "Live | after apply", "实时 | 应用后";
    ThreeWay => "Three-way: last-applied | live | file", "三方：上次应用 | 实时 | 文件";
    Unified => "As kubectl diff prints it", "kubectl diff 的输出";
    LastApplied => "last-applied", "上次应用";
    Live => "live", "实时";
    File => "file", "文件";
    AfterApply => "after apply", "应用后";
    Field => "Field", "字段";
    Outcome => "What apply does", "apply 的处理";
    Why => "Why", "原因";
    StateNew => "new: apply creates it", "新对象：apply 会创建它";
    StateChanged => "changed: apply configures it", "有变化：apply 会更新它";
    StateUnchanged => "unchanged", "无变化";
    StateError => "cannot compare", "无法比较";
    OutcomeAdd => "adds", "添加";
    OutcomeOverwrite => "overwrites", "覆盖";
    OutcomeDelete => "deletes", "删除";
    OutcomeKeep => "keeps", "保留";
    OutcomeUnchanged => "same", "相同";
    NoDifferences => "No differences.", "没有差异。";
    Absent => "(absent)", "（无）";
    // GitOps and CI.
    Repositories => "Repositories", "仓库";
    Commits => "Commits", "提交";
    Editor => "Edit a file", "编辑文件";
    Path => "Path", "路径";
    Content => "Content", "内容";
    CommitMessage => "Commit message", "提交说明";
    CommitButton => "Commit", "提交";
    Committed => "Committed {}", "已提交 {}";
    SyncStatus => "Sync status", "同步状态";
    SyncNow => "Sync now", "立即同步";
    SyncHistory => "Sync history", "同步历史";
    SyncSettings => "Sync settings", "同步设置";
    Repo => "Repository", "仓库";
    Directory => "Directory", "目录";
    Prune => "Prune (delete what was removed from git)", "清理（删除已从 git 中移除的对象）";
    AutoSync => "Sync on every new commit", "每次有新提交时同步";
    Save => "Save", "保存";
    NoSyncYet => "No sync has run yet.", "尚未运行过同步。";
    SyncSynced => "synced", "已同步";
    SyncOutOfSync => "out of sync", "未同步";
    SyncFailed => "failed", "失败";
    SyncPruned => "pruned", "已清理";
    SyncOrphaned => "orphaned", "孤立";
    RunCi => "Run the CI bump", "运行 CI 版本升级";
    CiStages => "Stages", "阶段";
    StageCommit => "commit", "提交";
    StageVersion => "version", "版本";
    StageImage => "image", "镜像";
    StageManifestPatch => "manifest patch", "修改清单";
    StageConfigCommit => "config commit", "提交配置";
    StageSync => "sync", "同步";
    StageRollout => "rollout", "滚动更新";
    StageVerify => "new version answers", "新版本响应";
    StagePending => "pending", "等待中";
    StageRunning => "running", "运行中";
    StageSucceeded => "succeeded", "成功";
    StageFailed => "failed", "失败";
    StageSkipped => "skipped", "已跳过";
    // The workshop's instructor board (screens/board.rs).
    BoardTitle => "Workshop board", "工作坊看板";
    BoardLearner => "Learner", "学员";
    BoardSandbox => "Sandbox", "沙箱";
    BoardNow => "Now", "当前";
    BoardNoLearners => "No learner has joined yet: give the class the join address.", "还没有学员加入：请把加入地址发给学员。";
    BoardWaiting => "step {}, waiting {} min on:", "第 {} 步，已等待 {} 分钟：";
    BoardOnStep => "step {}", "第 {} 步";
    BoardStuck => "stuck", "卡住了";
    BoardTree => "Tree", "资源树";
    BoardTreeOf => "{}'s resources (read-only, refreshed every 2 s)", "{} 的资源（只读，每 2 秒刷新）";
    BoardTreeClose => "Close", "关闭";
    BoardTreeEmpty => "Nothing in the watched namespaces yet.", "所监视的命名空间中还没有对象。";
    BoardReset => "Reset", "重置";
    BoardResetDone => "Reset {} for {}.", "已重置练习 {}（学员 {}）。";
    BoardRemove => "Remove", "移除";
    BoardRemoveConfirm => "Remove {} from the workshop? Their sandbox is stopped, their progress and files are deleted, and their link stops working.", "要把 {} 移出工作坊吗？其沙箱将被停止，进度和文件将被删除，个人链接也将失效。";
    BoardRemoveDone => "Removed {}: their sandbox is stopped and their data deleted.", "已移除 {}：其沙箱已停止，数据已删除。";
    BoardHint => "Hint for everyone", "发给所有人的提示";
    BoardHintEnglish => "In English", "英文";
    BoardHintChinese => "In Chinese", "中文";
    BoardSendHint => "Send hint", "发送提示";
    BoardHintSent => "Hint shown to {} learners.", "提示已显示给 {} 名学员。";
    BoardExport => "Export results (CSV)", "导出结果（CSV）";
    SandboxRunning => "running", "运行中";
    SandboxStarting => "starting", "启动中";
    SandboxStopped => "stopped (idle)", "已停止（空闲）";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_string_exists_in_both_languages() {
        for key in S::ALL {
            assert!(!key.get(Language::English).trim().is_empty(), "{key:?} has no English text");
            assert!(!key.get(Language::Chinese).trim().is_empty(), "{key:?} has no Chinese text");
        }
    }

    #[test]
    fn chinese_strings_are_translated_unless_they_are_names() {
        // Words that are the same in both languages: product and kind names.
        let names: HashSet<&str> = ["GitOps", "YAML", "Pod", "Shell"].into_iter().collect();
        for key in S::ALL {
            let (en, zh) = (key.get(Language::English), key.get(Language::Chinese));
            if en == zh {
                assert!(names.contains(en), "{key:?} is not translated: {en}");
            }
        }
    }

    #[test]
    fn placeholders_match_between_languages() {
        for key in S::ALL {
            let count = |s: &str| s.matches("{}").count();
            assert_eq!(count(key.get(Language::English)), count(key.get(Language::Chinese)), "{key:?}");
        }
    }

    #[test]
    fn fill_replaces_placeholders_in_order() {
        assert_eq!(S::StepsDone.fill(Language::English, &["2", "5"]), "2 of 5 steps");
        assert_eq!(S::StepsDone.fill(Language::Chinese, &["2", "5"]), "已完成 2 / 5 步");
    }
}
