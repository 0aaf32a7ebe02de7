//! `test` and `[`: file tests, string and integer comparisons, `!`, `-a`, `-o` and parentheses.

use super::Call;
use crate::interp::Shell;

const UNARY: &[&str] = &["-e", "-f", "-d", "-s", "-r", "-w", "-x", "-z", "-n", "-L", "-h"];
const BINARY: &[&str] = &["=", "==", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

pub(crate) async fn test(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut args: Vec<String> = c.args[1..].to_vec();
    if c.name() == "[" {
        if args.last().map(String::as_str) != Some("]") {
            c.err("sh: [: missing ]\n").await;
            return 2;
        }
        args.pop();
    }
    let mut eval = Eval { sh, args: &args, pos: 0 };
    let result = if args.is_empty() { Ok(false) } else { eval.or() };
    match result {
        Ok(_) if eval.pos < args.len() => {
            c.err(format!("sh: {}: {}: unknown operand\n", c.name(), args[eval.pos])).await;
            2
        }
        Ok(truth) => i32::from(!truth),
        Err(message) => {
            c.err(format!("sh: {}: {message}\n", c.name())).await;
            2
        }
    }
}

struct Eval<'a> {
    sh: &'a Shell,
    args: &'a [String],
    pos: usize,
}

impl Eval<'_> {
    fn peek(&self, offset: usize) -> Option<&str> {
        self.args.get(self.pos + offset).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek(0) == Some("-o") {
            self.pos += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.not()?;
        while self.peek(0) == Some("-a") {
            self.pos += 1;
            value &= self.not()?;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek(0) == Some("!") && self.peek(1).is_some() {
            self.pos += 1;
            return Ok(!self.not()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let first = self.peek(0).ok_or("argument expected")?.to_string();
        if let Some(op) = self.peek(1).filter(|op| BINARY.contains(op)).map(String::from)
            && let Some(right) = self.peek(2).map(String::from)
        {
            self.pos += 3;
            return compare(&first, &op, &right);
        }
        if first == "(" && self.peek(1).is_some() {
            self.pos += 1;
            let value = self.or()?;
            if self.peek(0) != Some(")") {
                return Err("missing )".into());
            }
            self.pos += 1;
            return Ok(value);
        }
        if UNARY.contains(&first.as_str())
            && let Some(operand) = self.peek(1).map(String::from)
        {
            self.pos += 2;
            return Ok(self.unary(&first, &operand));
        }
        self.pos += 1;
        Ok(!first.is_empty())
    }

    fn unary(&self, op: &str, operand: &str) -> bool {
        let fs = &self.sh.ctx.fs;
        let path = self.sh.abs(operand);
        match op {
            "-z" => operand.is_empty(),
            "-n" => !operand.is_empty(),
            "-d" => fs.is_dir(&path) == Some(true),
            "-f" => fs.is_dir(&path) == Some(false),
            "-s" => fs.read(&path).is_ok_and(|b| !b.is_empty()) || fs.is_dir(&path) == Some(true),
            "-L" | "-h" => false,
            _ => fs.is_dir(&path).is_some(),
        }
    }
}

fn compare(left: &str, op: &str, right: &str) -> Result<bool, String> {
    match op {
        "=" | "==" => return Ok(left == right),
        "!=" => return Ok(left != right),
        _ => {}
    }
    let number = |s: &str| s.trim().parse::<i64>().map_err(|_| format!("{s}: bad number"));
    let (a, b) = (number(left)?, number(right)?);
    Ok(match op {
        "-eq" => a == b,
        "-ne" => a != b,
        "-lt" => a < b,
        "-le" => a <= b,
        "-gt" => a > b,
        _ => a >= b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_test_semantics() {
        assert_eq!(compare("a", "=", "a"), Ok(true));
        assert_eq!(compare("a", "!=", "a"), Ok(false));
        assert_eq!(compare("3", "-lt", "10"), Ok(true));
        assert_eq!(compare("3", "-gt", "10"), Ok(false));
        assert_eq!(compare("x", "-eq", "1"), Err("x: bad number".into()));
    }
}
