//! The shell's backslash commands as data: [`COMMANDS`] is the one list of their names, their
//! arguments and what they do; parsing ([`Command`]'s `FromStr`), the `\?` help ([`help`]) and
//! tab completion ([`names`]) all read it, so a command cannot be known to one and not the others.

use std::fmt;
use std::str::FromStr;

use crate::output::Format;

/// A backslash command, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `\d` lists the tables; `\d TABLE` describes one.
    Describe(Option<String>),
    /// `\timing on|off`, or nothing to switch.
    Timing(Option<bool>),
    Format(Format),
    Help,
    Quit,
}

/// One backslash command: its name, the other spellings it answers to, and its lines in `\?`
/// (arguments, description).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub help: &'static [(&'static str, &'static str)],
}

/// Every backslash command, in the order `\?` shows them. `\?` has no line of its own: the help
/// explains itself.
pub const COMMANDS: &[Spec] = &[
    Spec { name: "\\d", aliases: &[], help: &[("", "list tables"), ("TABLE", "columns and snapshots of TABLE")] },
    Spec { name: "\\timing", aliases: &[], help: &[("[on|off]", "show how long each statement takes")] },
    Spec { name: "\\format", aliases: &[], help: &[("table|csv|json", "")] },
    Spec { name: "\\q", aliases: &["\\quit"], help: &[("", "quit (or Ctrl-D)")] },
    Spec { name: "\\?", aliases: &["\\help"], help: &[] },
];

/// What `\?` prints after the commands.
const HELP_FOOTER: &str = "SQL ends at `;` and may span lines; Ctrl-C cancels a running statement.";

/// The `\?` text: one line per usage in [`COMMANDS`], descriptions in one column.
pub fn help() -> String {
    let usage = |name: &str, args: &str| if args.is_empty() { name.to_owned() } else { format!("{name} {args}") };
    let lines: Vec<(String, &str)> =
        COMMANDS.iter().flat_map(|c| c.help.iter().map(|(args, what)| (usage(c.name, args), *what))).collect();
    // The column starts three spaces after the longest usage that has a description; a usage
    // without one may run past it.
    let width = lines.iter().filter(|(_, what)| !what.is_empty()).map(|(u, _)| u.len() + 3).max().unwrap_or(0);
    let mut out = String::new();
    for (usage, what) in lines {
        if what.is_empty() {
            out.push_str(&usage);
        } else {
            out.push_str(&format!("{usage:<width$}{what}"));
        }
        out.push('\n');
    }
    out.push_str(HELP_FOOTER);
    out
}

/// Every name a command answers to, for completion.
pub fn names() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
}

/// Why a typed command was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No command has this name.
    Unknown(String),
    /// `\timing` with something other than on, off or nothing.
    Timing(String),
    /// `\format` with something other than table, csv or json.
    Format(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => {
                let known: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
                write!(f, "unknown command {name}; the commands: {}; \\? explains them", known.join(", "))
            }
            Self::Timing(_) => f.write_str("\\timing takes on or off, or nothing to switch"),
            Self::Format(_) => f.write_str("\\format takes table, csv or json"),
        }
    }
}

impl std::error::Error for ParseError {}

impl FromStr for Command {
    type Err = ParseError;

    /// A command as typed: its name, then its argument (the rest of the line, spaces collapsed).
    fn from_str(typed: &str) -> Result<Self, ParseError> {
        let mut words = typed.split_whitespace();
        let name = words.next().unwrap_or_default();
        let arg = words.collect::<Vec<_>>().join(" ");
        let spec = COMMANDS
            .iter()
            .find(|c| c.name == name || c.aliases.contains(&name))
            .ok_or_else(|| ParseError::Unknown(name.to_owned()))?;
        match (spec.name, arg.as_str()) {
            ("\\q", _) => Ok(Self::Quit),
            ("\\?", _) => Ok(Self::Help),
            ("\\d", "") => Ok(Self::Describe(None)),
            ("\\d", table) => Ok(Self::Describe(Some(table.to_owned()))),
            ("\\timing", "") => Ok(Self::Timing(None)),
            ("\\timing", "on") => Ok(Self::Timing(Some(true))),
            ("\\timing", "off") => Ok(Self::Timing(Some(false))),
            ("\\timing", other) => Err(ParseError::Timing(other.to_owned())),
            ("\\format", "table") => Ok(Self::Format(Format::Table)),
            ("\\format", "csv") => Ok(Self::Format(Format::Csv)),
            ("\\format", "json") => Ok(Self::Format(Format::Json)),
            ("\\format", other) => Err(ParseError::Format(other.to_owned())),
            // A name in COMMANDS without a case above: a slip in this file, reported rather than hidden.
            (known, _) => Err(ParseError::Unknown(known.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command_and_its_arguments() {
        let parse = |s: &str| s.parse::<Command>();
        assert_eq!(parse("\\d"), Ok(Command::Describe(None)));
        assert_eq!(parse("\\d  pams_public_orders "), Ok(Command::Describe(Some("pams_public_orders".into()))));
        assert_eq!(parse("\\timing"), Ok(Command::Timing(None)));
        assert_eq!(parse("\\timing on"), Ok(Command::Timing(Some(true))));
        assert_eq!(parse("\\timing off"), Ok(Command::Timing(Some(false))));
        assert_eq!(parse("\\format json"), Ok(Command::Format(Format::Json)));
        assert_eq!(parse("\\format table"), Ok(Command::Format(Format::Table)));
        assert_eq!(parse("\\q"), Ok(Command::Quit));
        assert_eq!(parse("\\quit now"), Ok(Command::Quit));
        assert_eq!(parse("\\?"), Ok(Command::Help));
        assert_eq!(parse("\\help"), Ok(Command::Help));
        assert_eq!(parse("\\timing maybe"), Err(ParseError::Timing("maybe".into())));
        assert_eq!(parse("\\format xml"), Err(ParseError::Format("xml".into())));
        assert_eq!(parse("\\format"), Err(ParseError::Format(String::new())));
    }

    #[test]
    fn every_listed_name_parses() {
        for name in names() {
            // `\format` alone is an error about its argument, not an unknown command.
            assert!(!matches!(name.parse::<Command>(), Err(ParseError::Unknown(_))), "{name}");
        }
    }

    #[test]
    fn an_unknown_command_says_which_and_lists_the_commands() {
        let e = "\\bogus x".parse::<Command>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown command \\bogus; the commands: \\d, \\timing, \\format, \\q, \\?; \\? explains them"
        );
    }

    #[test]
    fn the_help_is_the_table_the_shell_always_printed() {
        // The text `\?` printed when it was kept by hand beside the commands.
        let by_hand = "\\d                 list tables
\\d TABLE           columns and snapshots of TABLE
\\timing [on|off]   show how long each statement takes
\\format table|csv|json
\\q                 quit (or Ctrl-D)
SQL ends at `;` and may span lines; Ctrl-C cancels a running statement.";
        assert_eq!(help(), by_hand);
    }
}
