//! The shell's command language, parsed without seL4 so that it is tested
//! on the host. A line is jobs separated by `;`, run one after another; a
//! job is commands joined by `|`, each with optional `< FILE` and
//! `> FILE` (or `>> FILE`, to append), and a final `&` to run it in the
//! background. Words are split at blanks; `'…'` and `"…"` quote blanks
//! and operators; `$?` (outside single quotes) is the last exit status.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
    pub stdout: Option<String>,
    /// `stdout` came with `>>`: write at its end.
    pub append: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub commands: Vec<Command>,
    pub background: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    UnterminatedQuote,
    /// `<`, `>` or `>>` with no file after it.
    MissingFile,
    /// `|` with no command on one side.
    EmptyCommand,
    /// `&` anywhere but at the end.
    MisplacedAmpersand,
    /// `<` on a command that reads a pipe, `>` on one that writes one, or
    /// two of the same.
    AmbiguousRedirect,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ParseError::UnterminatedQuote => "unterminated quote",
            ParseError::MissingFile => "missing file name after <, > or >>",
            ParseError::EmptyCommand => "empty command in pipeline",
            ParseError::MisplacedAmpersand => "& must end the line",
            ParseError::AmbiguousRedirect => "ambiguous redirect",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Pipe,
    In,
    Out,
    Append,
    Amp,
}

fn lex(line: &str, status: i32) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word: Option<String> = None;
    let status = alloc::format!("{status}");
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(w) = word.take() {
                    tokens.push(Token::Word(w));
                }
            }
            '|' | '<' | '>' | '&' => {
                if let Some(w) = word.take() {
                    tokens.push(Token::Word(w));
                }
                tokens.push(match c {
                    '|' => Token::Pipe,
                    '<' => Token::In,
                    '>' if chars.peek() == Some(&'>') => {
                        chars.next();
                        Token::Append
                    }
                    '>' => Token::Out,
                    _ => Token::Amp,
                });
            }
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(ParseError::UnterminatedQuote),
                        Some(q) if q == c => break,
                        Some('$') if c == '"' && chars.peek() == Some(&'?') => {
                            chars.next();
                            w.push_str(&status);
                        }
                        Some(other) => w.push(other),
                    }
                }
            }
            '$' if chars.peek() == Some(&'?') => {
                chars.next();
                word.get_or_insert_with(String::new).push_str(&status);
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    if let Some(w) = word {
        tokens.push(Token::Word(w));
    }
    Ok(tokens)
}

/// Splits a line into its jobs' texts at each `;` outside quotes.
pub fn split_jobs(line: &str) -> Result<Vec<&str>, ParseError> {
    let mut jobs = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => {
                jobs.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(ParseError::UnterminatedQuote);
    }
    jobs.push(&line[start..]);
    Ok(jobs)
}

/// Parses one job; `status` is what `$?` stands for. An empty job is
/// `Ok(None)`.
pub fn parse(line: &str, status: i32) -> Result<Option<Job>, ParseError> {
    let mut tokens = lex(line, status)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let background = tokens.last() == Some(&Token::Amp);
    if background {
        tokens.pop();
    }
    if tokens.contains(&Token::Amp) {
        return Err(ParseError::MisplacedAmpersand);
    }
    let mut commands = Vec::new();
    let mut current = Command::default();
    let mut it = tokens.into_iter();
    while let Some(t) = it.next() {
        match t {
            Token::Word(w) => current.argv.push(w),
            Token::In | Token::Out | Token::Append => {
                let Some(Token::Word(file)) = it.next() else {
                    return Err(ParseError::MissingFile);
                };
                let slot = if t == Token::In { &mut current.stdin } else { &mut current.stdout };
                if slot.replace(file).is_some() {
                    return Err(ParseError::AmbiguousRedirect);
                }
                current.append |= t == Token::Append;
            }
            Token::Pipe => {
                if current.argv.is_empty() {
                    return Err(ParseError::EmptyCommand);
                }
                commands.push(core::mem::take(&mut current));
            }
            Token::Amp => unreachable!("removed above"),
        }
    }
    if current.argv.is_empty() {
        return Err(ParseError::EmptyCommand);
    }
    commands.push(current);
    let last = commands.len() - 1;
    for (i, c) in commands.iter().enumerate() {
        if (i > 0 && c.stdin.is_some()) || (i < last && c.stdout.is_some()) {
            return Err(ParseError::AmbiguousRedirect);
        }
    }
    Ok(Some(Job { commands, background }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn one(line: &str) -> Command {
        let job = parse(line, 0).unwrap().unwrap();
        assert_eq!(job.commands.len(), 1);
        job.commands.into_iter().next().unwrap()
    }

    #[test]
    fn words_and_blanks() {
        assert_eq!(parse("", 0), Ok(None));
        assert_eq!(parse("  \t ", 0), Ok(None));
        assert_eq!(one("ls  -l\t/bin").argv, words(&["ls", "-l", "/bin"]));
    }

    #[test]
    fn redirections_with_and_without_blanks() {
        let c = one("echo hi > /tmp/a");
        assert_eq!((c.argv, c.stdout, c.stdin), (words(&["echo", "hi"]), Some("/tmp/a".into()), None));
        let c = one("cat</tmp/a>/tmp/b");
        assert_eq!(c.argv, words(&["cat"]));
        assert_eq!((c.stdin.as_deref(), c.stdout.as_deref()), (Some("/tmp/a"), Some("/tmp/b")));
        assert!(!c.append);
        let c = one("echo more >>/tmp/log");
        assert_eq!((c.argv, c.stdout.as_deref(), c.append), (words(&["echo", "more"]), Some("/tmp/log"), true));
        assert_eq!(one("echo '>>' x").argv, words(&["echo", ">>", "x"]));
    }

    #[test]
    fn pipelines_and_background() {
        let job = parse("ls /bin | cat | cat > /tmp/x &", 0).unwrap().unwrap();
        assert!(job.background);
        assert_eq!(job.commands.len(), 3);
        assert_eq!(job.commands[2].stdout.as_deref(), Some("/tmp/x"));
        assert_eq!(job.commands[1].argv, words(&["cat"]));
        assert!(!parse("sleep 1", 0).unwrap().unwrap().background);
        assert!(parse("sleep 100&", 0).unwrap().unwrap().background);
    }

    #[test]
    fn quotes_and_status() {
        assert_eq!(one("echo 'a | b' \"c > d\"").argv, words(&["echo", "a | b", "c > d"]));
        assert_eq!(one("echo '' x").argv, words(&["echo", "", "x"]));
        assert_eq!(
            parse("echo $? \"[$?]\" '$?'", 42).unwrap().unwrap().commands[0].argv,
            words(&["echo", "42", "[42]", "$?"])
        );
        // A `$` not before `?` is itself, in double quotes too, even last.
        assert_eq!(
            parse("echo \"$x\" \"a$\" $", 42).unwrap().unwrap().commands[0].argv,
            words(&["echo", "$x", "a$", "$"])
        );
    }

    #[test]
    fn jobs_split_at_semicolons_outside_quotes() {
        assert_eq!(split_jobs("echo hi > /tmp/a; cat /tmp/a"), Ok(vec!["echo hi > /tmp/a", " cat /tmp/a"]));
        assert_eq!(split_jobs("echo 'a;b' \"c;d\""), Ok(vec!["echo 'a;b' \"c;d\""]));
        assert_eq!(split_jobs(";"), Ok(vec!["", ""]));
        assert_eq!(split_jobs("echo ';"), Err(ParseError::UnterminatedQuote));
    }

    #[test]
    fn error_messages_are_distinct() {
        use ParseError::*;
        let all = [UnterminatedQuote, MissingFile, EmptyCommand, MisplacedAmpersand, AmbiguousRedirect];
        let mut texts: Vec<String> = all.iter().map(|e| e.to_string()).collect();
        assert!(texts.iter().all(|t| !t.is_empty()));
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), all.len());
        assert_eq!(UnterminatedQuote.to_string(), "unterminated quote");
    }

    #[test]
    fn errors() {
        assert_eq!(parse("echo 'open", 0), Err(ParseError::UnterminatedQuote));
        assert_eq!(parse("echo >", 0), Err(ParseError::MissingFile));
        assert_eq!(parse("cat < | x", 0), Err(ParseError::MissingFile));
        assert_eq!(parse("| cat", 0), Err(ParseError::EmptyCommand));
        assert_eq!(parse("ls |", 0), Err(ParseError::EmptyCommand));
        assert_eq!(parse("ls || cat", 0), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a & b", 0), Err(ParseError::MisplacedAmpersand));
        assert_eq!(parse("&", 0), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a > x | b", 0), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a | b < x", 0), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a > x > y", 0), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a >> x > y", 0), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a >>", 0), Err(ParseError::MissingFile));
        assert_eq!(parse("a >>> x", 0), Err(ParseError::MissingFile));
        assert_eq!(parse("> x", 0), Err(ParseError::EmptyCommand));
        assert_eq!(parse("< x", 0), Err(ParseError::EmptyCommand));
    }
}
