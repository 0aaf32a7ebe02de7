//! A bounded buffer of text lines for followed logs and the events feed: old lines drop off the
//! top so a chatty container cannot exhaust the page's memory.

use std::collections::VecDeque;

/// Lines, at most a fixed number, with a partial last line held until its newline arrives.
#[derive(Clone, Debug)]
pub struct TextBuffer {
    lines: VecDeque<String>,
    partial: String,
    limit: usize,
    dropped: usize,
}

impl TextBuffer {
    /// A buffer keeping at most `limit` lines.
    pub fn new(limit: usize) -> TextBuffer {
        TextBuffer { lines: VecDeque::new(), partial: String::new(), limit: limit.max(1), dropped: 0 }
    }

    /// Appends a chunk of text (it may hold several lines, or end mid-line).
    pub fn push(&mut self, chunk: &str) {
        let mut text = std::mem::take(&mut self.partial);
        text.push_str(chunk);
        let mut rest = text.as_str();
        while let Some(end) = rest.find('\n') {
            self.push_line(rest[..end].trim_end_matches('\r').to_string());
            rest = &rest[end + 1..];
        }
        self.partial = rest.to_string();
    }

    fn push_line(&mut self, line: String) {
        if self.lines.len() == self.limit {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    /// The text: complete lines, then the partial line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&self.partial);
        out
    }

    /// How many lines fell off the top.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.partial.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_mid_line_join_up() {
        let mut buffer = TextBuffer::new(10);
        buffer.push("hel");
        buffer.push("lo\nwor");
        assert_eq!(buffer.text(), "hello\nwor");
        buffer.push("ld\r\n");
        assert_eq!(buffer.text(), "hello\nworld\n");
    }

    #[test]
    fn old_lines_drop_off_and_are_counted() {
        let mut buffer = TextBuffer::new(2);
        buffer.push("1\n2\n3\n");
        assert_eq!(buffer.text(), "2\n3\n");
        assert_eq!(buffer.dropped(), 1);
    }
}
