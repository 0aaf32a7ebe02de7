//! What the command prints, in English or Simplified Chinese (chosen from `GITOPS_LAB_LANG` or `LANG`).

/// The learner's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// English.
    English,
    /// Simplified Chinese.
    Chinese,
}

/// The command's printed sentences.
pub struct Messages {
    language: Language,
}

impl Messages {
    /// Picks the language from `GITOPS_LAB_LANG`, then `LANG` (`zh…` means Chinese).
    pub fn from_env() -> Self {
        let pick = std::env::var("GITOPS_LAB_LANG").or_else(|_| std::env::var("LANG")).unwrap_or_default();
        Self::new(if pick.starts_with("zh") { Language::Chinese } else { Language::English })
    }

    /// Messages in a given language.
    pub fn new(language: Language) -> Self {
        Self { language }
    }

    fn say(&self, english: &str, chinese: &str) -> String {
        match self.language {
            Language::English => english.to_string(),
            Language::Chinese => chinese.to_string(),
        }
    }

    /// The learner's language of a bilingual text from the engine.
    pub fn text<'a>(&self, text: &'a gitops_lab::protocol::Text) -> &'a str {
        match self.language {
            Language::English => &text.en,
            Language::Chinese => &text.zh,
        }
    }

    /// Before an error's text.
    pub fn error_prefix(&self) -> String {
        self.say("error", "错误")
    }

    /// For `web`/`desktop` before the UI exists.
    pub fn ui_not_ready(&self) -> String {
        self.say(
            "The lab's window and web mode are not built yet. Start the sandbox cluster with\n  gitops-lab sandbox serve\nand use kubectl with the kubeconfig it prints.",
            "实验室的窗口和网页模式尚未构建。请先用下面的命令启动沙盒集群：\n  gitops-lab sandbox serve\n然后用它打印出的 kubeconfig 运行 kubectl。",
        )
    }

    /// How to use kubectl once the sandbox is up.
    pub fn sandbox_ready(&self, kubeconfig: &str) -> String {
        match self.language {
            Language::English => format!(
                "The sandbox cluster is ready. In another terminal:\n  export KUBECONFIG={kubeconfig}\n  kubectl get namespaces\nPress Ctrl+C to stop it; its objects are kept for next time."
            ),
            Language::Chinese => format!(
                "沙盒集群已就绪。请在另一个终端中运行：\n  export KUBECONFIG={kubeconfig}\n  kubectl get namespaces\n按 Ctrl+C 停止；集群中的对象会保留到下次启动。"
            ),
        }
    }

    /// When the listen address is not loopback.
    pub fn not_loopback(&self, addr: &str) -> String {
        match self.language {
            Language::English => format!(
                "warning: listening on {addr}, which is not a loopback address: anyone who can reach it and has the token controls the sandbox"
            ),
            Language::Chinese => {
                format!("警告：正在监听 {addr}，它不是本机回环地址；任何能访问该地址并持有令牌的人都能控制沙盒")
            }
        }
    }

    /// Printed when the sandbox stops on a signal.
    pub fn stopped(&self) -> String {
        self.say("The sandbox cluster stopped.", "沙盒集群已停止。")
    }

    /// When no data directory can be found.
    pub fn no_data_dir(&self) -> String {
        self.say(
            "cannot find a data directory for this user; pass --data-dir DIR or set GITOPS_LAB_DATA",
            "找不到当前用户的数据目录；请使用 --data-dir DIR 或设置 GITOPS_LAB_DATA",
        )
    }

    /// When the listen address cannot be bound.
    pub fn cannot_listen(&self, addr: &str) -> String {
        match self.language {
            Language::English => {
                format!("cannot listen on {addr} (is another program using that port? try --listen 127.0.0.1:0)")
            }
            Language::Chinese => format!("无法监听 {addr}（该端口是否已被其他程序占用？可尝试 --listen 127.0.0.1:0）"),
        }
    }

    /// When the sandbox's data cannot be opened.
    pub fn cannot_open(&self, dir: &str) -> String {
        match self.language {
            Language::English => {
                format!("cannot open the sandbox data in {dir} (is another sandbox already using it?)")
            }
            Language::Chinese => format!("无法打开 {dir} 中的沙盒数据（是否已有另一个沙盒在使用它？）"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_and_differs() {
        let en = Messages::new(Language::English);
        let zh = Messages::new(Language::Chinese);
        let pairs = [
            (en.error_prefix(), zh.error_prefix()),
            (en.ui_not_ready(), zh.ui_not_ready()),
            (en.sandbox_ready("k"), zh.sandbox_ready("k")),
            (en.not_loopback("a"), zh.not_loopback("a")),
            (en.stopped(), zh.stopped()),
            (en.no_data_dir(), zh.no_data_dir()),
            (en.cannot_listen("a"), zh.cannot_listen("a")),
            (en.cannot_open("d"), zh.cannot_open("d")),
        ];
        for (english, chinese) in pairs {
            assert!(!english.is_empty() && !chinese.is_empty());
            assert_ne!(english, chinese);
        }
    }
}
