//! Tab completion of table and column names (and the shell's commands) for the line editor.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::engine::TableInfo;

/// The names the session's catalogue holds, completed case-insensitively.
#[derive(Debug, Default, Clone)]
pub struct Names {
    words: Vec<String>,
}

impl Names {
    pub fn new(tables: &[TableInfo]) -> Self {
        let mut words: Vec<String> = Vec::new();
        for t in tables {
            words.push(t.name.clone());
            if let Some((_, short)) = t.name.rsplit_once('.') {
                words.push(short.to_owned());
            }
            words.extend(t.columns.iter().map(|(c, _)| c.clone()));
        }
        words.extend(super::command::names().map(str::to_owned));
        words.sort();
        words.dedup();
        Self { words }
    }

    /// Where the word before `pos` starts, and the names it could be.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '\\')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = before[start..].to_lowercase();
        if word.is_empty() {
            return (start, Vec::new());
        }
        let found = self.words.iter().filter(|w| w.to_lowercase().starts_with(&word)).cloned().collect();
        (start, found)
    }
}

impl Completer for Names {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
    }
}

impl Hinter for Names {
    type Hint = String;
}
impl Highlighter for Names {}
impl Validator for Names {}
impl Helper for Names {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_tables_columns_and_commands_from_the_word_at_the_cursor() {
        let names = Names::new(&[TableInfo {
            name: "pams_stack_prod.pams_public_orders".into(),
            columns: vec![("placed_at".into(), "Utf8".into()), ("Status".into(), "Utf8".into())],
            snapshots: vec![],
        }]);
        assert_eq!(names.candidates("SELECT pl", 9), (7, vec!["placed_at".to_owned()]));
        assert_eq!(names.candidates("select st", 9), (7, vec!["Status".to_owned()]));
        assert_eq!(
            names.candidates("FROM pams_stack_prod.pams_p", 27),
            (5, vec!["pams_stack_prod.pams_public_orders".to_owned()])
        );
        assert_eq!(names.candidates("FROM pams_pub", 13), (5, vec!["pams_public_orders".to_owned()]));
        assert_eq!(names.candidates("\\ti", 3), (0, vec!["\\timing".to_owned()]));
        assert_eq!(names.candidates("\\he", 3), (0, vec!["\\help".to_owned()]));
        assert_eq!(names.candidates("SELECT ", 7), (7, vec![]));
    }
}
