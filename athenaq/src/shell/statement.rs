//! Collects typed lines into SQL statements: a statement ends at a `;` that is not inside a
//! string ('...'), a quoted identifier ("..."), or a comment (`--` to the end of the line,
//! `/* ... */`). A line that starts with `\` while no statement is open is a shell command.

/// What a line completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Whole statements (without their `;`), in order.
    Statements(Vec<String>),
    /// A backslash command, as typed.
    Command(String),
}

#[derive(Debug, Default)]
pub struct Buffer {
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Quote,
    Identifier,
    LineComment,
    BlockComment,
}

impl Buffer {
    /// True while a statement has been started and not ended.
    pub fn is_open(&self) -> bool {
        !self.text.trim().is_empty()
    }

    /// Drops the open statement (Ctrl-C at the prompt).
    pub fn clear(&mut self) {
        self.text.clear();
    }

    /// Adds a line; returns the statements or the command it completed.
    pub fn push(&mut self, line: &str) -> Input {
        let trimmed = line.trim();
        if !self.is_open() && trimmed.starts_with('\\') {
            return Input::Command(trimmed.to_owned());
        }
        self.text.push_str(line);
        self.text.push('\n');
        let mut done = Vec::new();
        let mut start = 0;
        let mut state = State::Code;
        let chars: Vec<(usize, char)> = self.text.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (at, c) = chars[i];
            let next = chars.get(i + 1).map(|(_, c)| *c);
            state = match (state, c) {
                (State::Code, '\'') => State::Quote,
                (State::Code, '"') => State::Identifier,
                (State::Code, '-') if next == Some('-') => State::LineComment,
                (State::Code, '/') if next == Some('*') => {
                    i += 1;
                    State::BlockComment
                }
                (State::Code, ';') => {
                    let statement = self.text[start..at].trim();
                    if !statement.is_empty() {
                        done.push(statement.to_owned());
                    }
                    start = at + 1;
                    State::Code
                }
                (State::Quote, '\'') | (State::Identifier, '"') => State::Code,
                (State::LineComment, '\n') => State::Code,
                (State::BlockComment, '*') if next == Some('/') => {
                    i += 1;
                    State::Code
                }
                (s, _) => s,
            };
            i += 1;
        }
        self.text.drain(..start);
        Input::Statements(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_strings_identifiers_and_comments() {
        let mut b = Buffer::default();
        assert_eq!(b.push("SELECT 'a;b', \"x;y\" -- no; end"), Input::Statements(vec![]));
        assert!(b.is_open());
        assert_eq!(
            b.push("/* ; */ FROM t; SELECT 2;"),
            Input::Statements(vec!["SELECT 'a;b', \"x;y\" -- no; end\n/* ; */ FROM t".into(), "SELECT 2".into()])
        );
        assert!(!b.is_open());
        assert_eq!(b.push("  \\d orders"), Input::Command("\\d orders".into()));
        assert_eq!(b.push("SELECT 'it''s';"), Input::Statements(vec!["SELECT 'it''s'".into()]));
        assert_eq!(b.push(";;"), Input::Statements(vec![]));
    }

    #[test]
    fn a_backslash_inside_an_open_statement_is_part_of_it() {
        let mut b = Buffer::default();
        b.push("SELECT");
        assert_eq!(b.push("\\d;"), Input::Statements(vec!["SELECT\n\\d".into()]));
        b.push("SELECT 1");
        b.clear();
        assert!(!b.is_open());
    }
}
