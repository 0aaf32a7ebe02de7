//! The syntax tree of a shell script, as the parser builds it and the interpreter walks it.

/// A list of commands separated by `;`, `&` or newlines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// The items, in order.
    pub items: Vec<Item>,
}

/// One entry of a list: an and-or chain, possibly sent to the background with `&`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The chain.
    pub chain: AndOr,
    /// Whether it ended with `&`.
    pub background: bool,
}

/// Pipelines joined by `&&` and `||`.
#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The others, each with the operator before it.
    pub rest: Vec<(Connector, Pipeline)>,
}

/// `&&` or `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// Run the next pipeline only if the previous one succeeded.
    And,
    /// Run the next pipeline only if the previous one failed.
    Or,
}

/// Commands joined by `|`, optionally negated with `!`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Whether the status is inverted.
    pub negate: bool,
    /// The stages.
    pub commands: Vec<Command>,
}

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A command with words, assignments and redirections.
    Simple(Simple),
    /// A compound command and the redirections applied to all of it.
    Compound(Compound, Vec<Redir>),
}

/// A simple command: `A=1 cmd arg >file`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Simple {
    /// Variable assignments before the command name.
    pub assigns: Vec<(String, Word)>,
    /// The command name and its arguments.
    pub words: Vec<Word>,
    /// Redirections, in order.
    pub redirs: Vec<Redir>,
}

/// `if`, loops and groupings.
#[derive(Debug, Clone, PartialEq)]
pub enum Compound {
    /// `if c; then a; elif d; then b; else e; fi`.
    If {
        /// Each condition with the body it guards.
        branches: Vec<(Script, Script)>,
        /// The `else` body.
        otherwise: Option<Script>,
    },
    /// `for name in words; do body; done` (no `in`: the positional parameters).
    For {
        /// The loop variable.
        var: String,
        /// The words to iterate over.
        items: Option<Vec<Word>>,
        /// The body.
        body: Script,
    },
    /// `while cond; do body; done`, or `until` when `until` is set.
    While {
        /// The condition.
        cond: Script,
        /// The body.
        body: Script,
        /// Loop while the condition fails instead.
        until: bool,
    },
    /// `case word in pattern|pattern) list ;; … esac`.
    Case {
        /// The word matched.
        word: Word,
        /// Each arm's patterns and body.
        arms: Vec<(Vec<Word>, Script)>,
    },
    /// `{ list; }`: runs in the current shell.
    Group(Script),
    /// `( list )`: runs in a copy of the shell.
    Subshell(Script),
}

/// A redirection: `>`, `>>`, `<`, `2>&1`, `&>`, `<<EOF`.
#[derive(Debug, Clone, PartialEq)]
pub struct Redir {
    /// The descriptor redirected (0 stdin, 1 stdout, 2 stderr).
    pub fd: u32,
    /// What happens to it.
    pub op: RedirOp,
    /// The file name, the descriptor number for duplications, or a here-document's body.
    pub target: Word,
}

/// The kinds of redirection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirOp {
    /// `>`: truncate and write.
    Out,
    /// `>>`: append.
    Append,
    /// `<`: read.
    In,
    /// `>&N`: write where descriptor N writes.
    Dup,
    /// `&>` (or `&>>` when appending): stdout and stderr to one file.
    Both {
        /// `&>>`.
        append: bool,
    },
    /// `<<`: the target is the body.
    HereDoc,
}

/// A word before expansion: pieces of literal text and expansions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Word {
    /// The pieces, in order.
    pub parts: Vec<Part>,
}

/// One piece of a word.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Unquoted text: subject to globbing.
    Lit(String),
    /// Quoted or escaped text: taken as is.
    Quoted(String),
    /// `$name` or `${name…}`.
    Param {
        /// The parameter's name (`?`, `$`, `#`, `@`, `1`, …, or a variable).
        name: String,
        /// `${name:-word}` style operator and its word; `#` alone is the `${#name}` length.
        modifier: Option<(String, Word)>,
        /// Inside double quotes: no field splitting.
        quoted: bool,
    },
    /// `$(…)` or backticks.
    Command {
        /// The script to run.
        script: Script,
        /// Inside double quotes: no field splitting.
        quoted: bool,
    },
    /// `$((…))`.
    Arith {
        /// The expression text (variables are expanded when it is evaluated).
        expr: String,
        /// Inside double quotes.
        quoted: bool,
    },
    /// A leading `~`: the home directory.
    Tilde,
}

impl Word {
    /// The text when the word is one unquoted literal (keywords, assignments, fd numbers).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// A rough rendering of the word for error messages.
    pub fn shown(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(t) | Part::Quoted(t) => t.clone(),
                Part::Param { name, .. } => format!("${name}"),
                Part::Command { .. } => "$(…)".into(),
                Part::Arith { expr, .. } => format!("$(({expr}))"),
                Part::Tilde => "~".into(),
            })
            .collect()
    }
}
