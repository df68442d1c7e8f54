//! The shell's command language, parsed without seL4 so that it is tested
//! on the host. A line is jobs, each ended by `;` (run, then the next),
//! `&` (left running in the background, then the next), `&&` (the next
//! runs only if it succeeded) or `||` (only if it failed); a job is
//! commands joined by `|`, each with optional `< FILE` and `> FILE` (or
//! `>> FILE`, to append). Words are split at blanks; `'…'` and `"…"`
//! quote blanks and operators; a word that starts with `#` outside quotes
//! begins a comment, to the end of the line; outside single quotes `$?`
//! is the last exit status, `$!` the pid of the last background job's
//! last command, and `$NAME` the value of NAME in the environment
//! (nothing if unset; an unquoted word that comes to nothing is no word).
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
    /// `&` anywhere but at the end of a job (only `parse` given a line
    /// that `split_jobs` did not split).
    MisplacedAmpersand,
    /// `<` on a command that reads a pipe, `>` on one that writes one, or
    /// two of the same.
    AmbiguousRedirect,
    /// `&` ending a job that `&&` or `||` joins to another (POSIX shells
    /// would run the whole list in the background; this one runs jobs,
    /// so it says so rather than run part of it here).
    BackgroundList,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ParseError::UnterminatedQuote => "unterminated quote",
            ParseError::MissingFile => "missing file name after <, > or >>",
            ParseError::EmptyCommand => "empty command in pipeline",
            ParseError::MisplacedAmpersand => "& must end a job",
            ParseError::AmbiguousRedirect => "ambiguous redirect",
            ParseError::BackgroundList => "& cannot end a job joined by && or ||",
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

/// What `$?`, `$!` and `$NAME` stand for: the last status, the last
/// background job's pid, and the shell's environment (`NAME=VALUE`
/// entries).
#[derive(Clone, Copy, Debug)]
pub struct Vars<'a> {
    pub status: i32,
    /// `$!`: nothing until a job was left in the background.
    pub background: Option<u32>,
    pub env: &'a [String],
}

impl Vars<'_> {
    /// The value of `$NAME`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
    }
}

/// Whether `name` may be a variable's: a letter or `_`, then letters,
/// digits or `_`.
pub fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where the values of `$?`, `$!` and `$NAME` come from.
#[derive(Clone, Copy)]
enum Values<'a> {
    Of(&'a Vars<'a>),
    /// A word for each (never nothing): a job's shape, before the jobs
    /// of its line that may change the values have run.
    StandIn,
}

/// After a `$`: what `$?`, `$!` or `$NAME` stands for, taking its
/// characters; `None` if what follows is none of them (the `$` is itself).
fn expand(chars: &mut core::iter::Peekable<core::str::Chars>, values: Values) -> Option<String> {
    let vars = match values {
        Values::Of(vars) => vars,
        Values::StandIn => &Vars { status: 0, background: Some(0), env: &[] },
    };
    match chars.peek() {
        Some('?') => {
            chars.next();
            return Some(alloc::format!("{}", vars.status));
        }
        Some('!') => {
            chars.next();
            return Some(vars.background.map(|p| alloc::format!("{p}")).unwrap_or_default());
        }
        _ => {}
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphanumeric() || **c == '_') {
        if name.is_empty() && c.is_ascii_digit() {
            break;
        }
        name.push(c);
        chars.next();
    }
    if name.is_empty() {
        return None;
    }
    Some(String::from(match values {
        Values::Of(vars) => vars.get(&name).unwrap_or(""),
        Values::StandIn => "$",
    }))
}

fn lex(line: &str, vars: Values) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word: Option<String> = None;
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
                        Some('$') if c == '"' => match expand(&mut chars, vars) {
                            Some(value) => w.push_str(&value),
                            None => w.push('$'),
                        },
                        Some(other) => w.push(other),
                    }
                }
            }
            '$' => match expand(&mut chars, vars) {
                // Nothing, unquoted, makes no word.
                Some(value) if value.is_empty() => {}
                Some(value) => word.get_or_insert_with(String::new).push_str(&value),
                None => word.get_or_insert_with(String::new).push('$'),
            },
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    if let Some(w) = word {
        tokens.push(Token::Word(w));
    }
    Ok(tokens)
}

/// Whether a job runs, by how the job before it on its line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The first job, or after `;` or `&`.
    Always,
    /// After `&&`: if the last status is 0.
    Succeeded,
    /// After `||`: if it is not.
    Failed,
}

impl When {
    /// Whether a job with this condition runs after `status`; one that
    /// does not leaves the status as it was (so `a && b || c` runs `c`
    /// when `a` fails, as in POSIX shells).
    pub fn holds(self, status: i32) -> bool {
        match self {
            When::Always => true,
            When::Succeeded => status == 0,
            When::Failed => status != 0,
        }
    }
}

/// Splits a line into its jobs' texts at each `;`, `&`, `&&` or `||`
/// outside quotes, each with when it runs: `;`, `&&` and `||` are
/// dropped, a single `&` kept (it ends its job's text, which `parse`
/// reads as "in the background"). A job that `&&` or `||` joins must
/// have a command on each side, and must not be left in the background.
/// A `#` outside quotes that starts a word ends the line (a comment).
pub fn split_jobs(line: &str) -> Result<Vec<(When, &str)>, ParseError> {
    let mut jobs = Vec::new();
    let mut quote = None;
    let (mut start, mut when) = (0, When::Always);
    // Where the line's text ends: before a comment, if it has one.
    let mut cut = line.len();
    let mut before = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let word_start = before.is_none_or(|b: char| b.is_whitespace() || ";&|<>".contains(b));
        before = Some(c);
        let (end, next, then) = match (quote, c) {
            // A `#` that starts a word begins a comment, to the end of
            // the line (`echo a#b` has none).
            (None, '#') if word_start => {
                cut = i;
                break;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                continue;
            }
            (Some(q), c) if c == q => {
                quote = None;
                continue;
            }
            (None, '&' | '|') if chars.peek().map(|&(_, n)| n) == Some(c) => {
                chars.next();
                (i, i + 2, if c == '&' { When::Succeeded } else { When::Failed })
            }
            (None, ';') => (i, i + 1, When::Always),
            (None, '&') => (i + 1, i + 1, When::Always),
            _ => continue,
        };
        jobs.push((when, &line[start..end]));
        (start, when) = (next, then);
    }
    if quote.is_some() {
        return Err(ParseError::UnterminatedQuote);
    }
    jobs.push((when, &line[start..cut]));
    // A command on each side of `&&` and `||` (a job before them that
    // ends with `&` is followed by an empty one), and no background job
    // after them.
    for pair in jobs.windows(2) {
        if let [(_, before), (When::Succeeded | When::Failed, after)] = pair {
            if before.trim().is_empty() || after.trim().is_empty() {
                return Err(ParseError::EmptyCommand);
            }
        }
    }
    if jobs.iter().any(|(when, text)| *when != When::Always && text.trim_end().ends_with('&')) {
        return Err(ParseError::BackgroundList);
    }
    Ok(jobs)
}

/// Parses one job (a text of `split_jobs`), with `$?`, `$!` and `$NAME`
/// from `vars`. An empty job is `Ok(None)`.
pub fn parse(line: &str, vars: &Vars) -> Result<Option<Job>, ParseError> {
    parse_with(line, Values::Of(vars))
}

/// Whether a job (a text of `split_jobs`) parses whatever values its
/// `$` words take (save nothing): the shell checks a line's jobs so
/// before it runs the first, while their values may still change (`export
/// F=/tmp/x; date > $F`). A `$` word that comes to nothing may still make
/// `parse` refuse the job then.
pub fn check(line: &str) -> Result<(), ParseError> {
    parse_with(line, Values::StandIn).map(|_| ())
}

fn parse_with(line: &str, values: Values) -> Result<Option<Job>, ParseError> {
    let mut tokens = lex(line, values)?;
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

    /// Only the status: an empty environment.
    fn v(status: i32) -> Vars<'static> {
        Vars { status, background: None, env: &[] }
    }
    use alloc::string::ToString;
    use alloc::vec;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn one(line: &str) -> Command {
        let job = parse(line, &v(0)).unwrap().unwrap();
        assert_eq!(job.commands.len(), 1);
        job.commands.into_iter().next().unwrap()
    }

    #[test]
    fn words_and_blanks() {
        assert_eq!(parse("", &v(0)), Ok(None));
        assert_eq!(parse("  \t ", &v(0)), Ok(None));
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
        let job = parse("ls /bin | cat | cat > /tmp/x &", &v(0)).unwrap().unwrap();
        assert!(job.background);
        assert_eq!(job.commands.len(), 3);
        assert_eq!(job.commands[2].stdout.as_deref(), Some("/tmp/x"));
        assert_eq!(job.commands[1].argv, words(&["cat"]));
        assert!(!parse("sleep 1", &v(0)).unwrap().unwrap().background);
        assert!(parse("sleep 100&", &v(0)).unwrap().unwrap().background);
    }

    #[test]
    fn quotes_and_status() {
        assert_eq!(one("echo 'a | b' \"c > d\"").argv, words(&["echo", "a | b", "c > d"]));
        assert_eq!(one("echo '' x").argv, words(&["echo", "", "x"]));
        assert_eq!(
            parse("echo $? \"[$?]\" '$?'", &v(42)).unwrap().unwrap().commands[0].argv,
            words(&["echo", "42", "[42]", "$?"])
        );
        // A `$` before neither `?` nor a name is itself, in double quotes
        // too, even last; an unset name is nothing.
        assert_eq!(
            parse("echo \"$x\" \"a$\" $ $1", &v(42)).unwrap().unwrap().commands[0].argv,
            words(&["echo", "", "a$", "$", "$1"])
        );
    }

    #[test]
    fn names_from_the_environment() {
        let env = [String::from("HOME=/tmp"), String::from("GREETING=hello world"), String::from("H=x")];
        let vars = Vars { status: 3, background: None, env: &env };
        let argv = |line: &str| parse(line, &vars).unwrap().unwrap().commands[0].argv.clone();
        // Unquoted, a value with blanks stays one word (no field splitting).
        assert_eq!(
            argv("echo $GREETING \"$GREETING!\" '$GREETING'"),
            words(&["echo", "hello world", "hello world!", "$GREETING"])
        );
        assert_eq!(argv("ls $HOME/x ${HOME} $H$?"), words(&["ls", "/tmp/x", "${HOME}", "x3"]));
        // An unset name unquoted is no word; quoted, an empty one.
        assert_eq!(argv("echo $NOPE x \"$NOPE\""), words(&["echo", "x", ""]));
        assert_eq!(parse("$NOPE", &vars), Ok(None));
        assert!(is_name("_a1") && !is_name("1a") && !is_name("a-b") && !is_name(""));
    }

    /// The texts of a line's jobs, or its error.
    fn texts(line: &str) -> Result<Vec<&str>, ParseError> {
        split_jobs(line).map(|jobs| jobs.into_iter().map(|(_, t)| t).collect())
    }

    #[test]
    fn jobs_split_at_semicolons_and_ampersands_outside_quotes() {
        assert_eq!(texts("echo hi > /tmp/a; cat /tmp/a"), Ok(vec!["echo hi > /tmp/a", " cat /tmp/a"]));
        assert_eq!(texts("echo 'a;b' \"c;d\""), Ok(vec!["echo 'a;b' \"c;d\""]));
        assert_eq!(texts(";"), Ok(vec!["", ""]));
        assert_eq!(texts("echo ';"), Err(ParseError::UnterminatedQuote));
        // `&` stays with its job, which runs in the background.
        assert_eq!(texts("sleep 9 & echo '&' \"a&b\"&"), Ok(vec!["sleep 9 &", " echo '&' \"a&b\"&", ""]));
        let jobs: Vec<_> = texts("a|b & c;d &").unwrap().into_iter().filter_map(|t| parse(t, &v(0)).unwrap()).collect();
        let shape: Vec<_> = jobs.iter().map(|j| (j.commands.len(), j.background)).collect();
        assert_eq!(shape, [(2, true), (1, false), (1, true)]);
        assert!(split_jobs("a; b & c").unwrap().iter().all(|(when, _)| *when == When::Always));
    }

    #[test]
    fn comments_end_the_line_at_a_word_that_starts_with_a_hash() {
        assert_eq!(texts("echo a # b; c"), Ok(vec!["echo a "]));
        assert_eq!(texts("# all of it && x"), Ok(vec![""]));
        assert_eq!(texts("echo a#b '# q' \"#\";#c"), Ok(vec!["echo a#b '# q' \"#\"", ""]));
        assert_eq!(texts("a|#b"), Ok(vec!["a|"]));
        assert_eq!(texts("echo '#"), Err(ParseError::UnterminatedQuote));
        assert_eq!(one("echo x#y").argv, words(&["echo", "x#y"]));
    }

    #[test]
    fn and_or_lists_run_by_the_last_status() {
        use When::*;
        assert_eq!(
            split_jobs("make && ./run || echo 'a||b' \"&&\"; x|y"),
            Ok(vec![(Always, "make "), (Succeeded, " ./run "), (Failed, " echo 'a||b' \"&&\""), (Always, " x|y")])
        );
        // `false && a || b`: `a` is skipped and the status stays, so `b` runs.
        let ran: Vec<bool> = [Succeeded, Failed].iter().map(|w| w.holds(1)).collect();
        assert_eq!(ran, [false, true]);
        assert!(Always.holds(1) && Always.holds(0) && Succeeded.holds(0) && !Failed.holds(0));
        // A command on each side.
        for line in ["a &&", "&& a", "a || ", "a ; && b", "a & && b", "a ||| b"] {
            let refused = split_jobs(line).and_then(|jobs| jobs.iter().try_for_each(|(_, t)| check(t)));
            assert_eq!(refused, Err(ParseError::EmptyCommand), "{line}");
        }
        // Not in the background, which would split the list.
        assert_eq!(split_jobs("a && b &"), Err(ParseError::BackgroundList));
        assert_eq!(split_jobs("a || b&"), Err(ParseError::BackgroundList));
        assert_eq!(texts("a & b && c"), Ok(vec!["a &", " b ", " c"]));
    }

    #[test]
    fn a_check_is_of_the_shape_not_the_values() {
        // Unset now, the name may be set by a job before this one.
        assert_eq!(parse("date > $F", &v(0)), Err(ParseError::MissingFile));
        assert_eq!(check("date > $F"), Ok(()));
        assert_eq!(check("ls | $P"), Ok(()));
        assert_eq!(check("kill $!"), Ok(()));
        for (line, e) in
            [("a > ", ParseError::MissingFile), ("| a", ParseError::EmptyCommand), ("&", ParseError::EmptyCommand)]
        {
            assert_eq!(check(line), Err(e), "{line}");
        }
        assert_eq!(check("echo 'x"), Err(ParseError::UnterminatedQuote));
    }

    #[test]
    fn the_last_background_pid() {
        let vars = Vars { status: 0, background: Some(131073), env: &[] };
        let argv = parse("kill $! '$!' \"[$!]\"", &vars).unwrap().unwrap().commands[0].argv.clone();
        assert_eq!(argv, words(&["kill", "131073", "$!", "[131073]"]));
        // None yet: nothing, so no word unquoted.
        assert_eq!(parse("kill $! \"$!\"", &v(0)).unwrap().unwrap().commands[0].argv, words(&["kill", ""]));
    }

    #[test]
    fn error_messages_are_distinct() {
        use ParseError::*;
        let all = [UnterminatedQuote, MissingFile, EmptyCommand, MisplacedAmpersand, AmbiguousRedirect, BackgroundList];
        let mut texts: Vec<String> = all.iter().map(|e| e.to_string()).collect();
        assert!(texts.iter().all(|t| !t.is_empty()));
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), all.len());
        assert_eq!(UnterminatedQuote.to_string(), "unterminated quote");
    }

    #[test]
    fn errors() {
        assert_eq!(parse("echo 'open", &v(0)), Err(ParseError::UnterminatedQuote));
        assert_eq!(parse("echo >", &v(0)), Err(ParseError::MissingFile));
        assert_eq!(parse("cat < | x", &v(0)), Err(ParseError::MissingFile));
        assert_eq!(parse("| cat", &v(0)), Err(ParseError::EmptyCommand));
        assert_eq!(parse("ls |", &v(0)), Err(ParseError::EmptyCommand));
        assert_eq!(parse("ls || cat", &v(0)), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a & b", &v(0)), Err(ParseError::MisplacedAmpersand));
        assert_eq!(parse("&", &v(0)), Err(ParseError::EmptyCommand));
        assert_eq!(parse("a > x | b", &v(0)), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a | b < x", &v(0)), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a > x > y", &v(0)), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a >> x > y", &v(0)), Err(ParseError::AmbiguousRedirect));
        assert_eq!(parse("a >>", &v(0)), Err(ParseError::MissingFile));
        assert_eq!(parse("a >>> x", &v(0)), Err(ParseError::MissingFile));
        assert_eq!(parse("> x", &v(0)), Err(ParseError::EmptyCommand));
        assert_eq!(parse("< x", &v(0)), Err(ParseError::EmptyCommand));
    }
}
