//! keepalived's token rules (keepalived 2.2.7 `lib/parser.c`: `read_line`, `decomment`,
//! `check_definition`, `replace_param`, `add_seq`, `add_lst`, `check_include`,
//! `alloc_strvec_r`, `alloc_strvec_quoted_escaped`).
//!
//! The lexer turns a file (and the files it includes) into a flat stream of [`Token`]s:
//! [`Token::Open`] for `{`, [`Token::Close`] for `}` and [`Token::Line`] for the text between
//! them. Like keepalived it splits a physical line at every brace that is not inside double
//! quotes, so `track_script { chk }` is `Line(track_script) Open Line(chk) Close`, and `{` may
//! be on the keyword's line or the next one.
//!
//! Processing of each physical line, in keepalived's order:
//! 1. `decomment`: `#` or `!` outside double quotes starts a comment; `\#` and `\!` are literal;
//!    leading and trailing blanks go.
//! 2. `@ID line` is kept only if ID is the config id; `@^ID line` only if it is not.
//! 3. `$NAME=value` defines a parameter (a trailing `\` continues it on the next lines).
//! 4. `~SEQ(var, start, step, end) text` / `~SEQx(...)` / `~LST(var, v1, v2, ...) text` replicate
//!    `text` once per value with `$var` defined.
//! 5. `$NAME` / `${NAME}` are replaced by their value; undefined ones are left as written.
//! 6. `include PATTERN` (and `includer/m/w/b/a`) reads the files the glob matches, relative to
//!    the directory of the including file, with csh braces `{a,b}`.
//! 7. Braces split the line; words are split at blanks, and `"…"` is one word with the quotes
//!    removed. Single quotes are ordinary characters here, as in keepalived; they only group
//!    words in script command lines ([`split_quoted_escaped`]).
//!
//! Every word carries the [`Span`] of its first character in the file it came from. Text that
//! came from a `$NAME` expansion carries the span of the `$`.

use crate::config::diag::{Diagnostic, Diagnostics, FileId, Span};
use compact_str::CompactString;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

/// How deep `include`s may nest before the lexer assumes a loop and stops.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// How many `$NAME` replacements one line may need before the lexer assumes a definition
/// refers to itself.
const MAX_EXPANSIONS_PER_LINE: usize = 1000;

/// How many lines one `~SEQ`/`~LST` may produce.
const MAX_REPLICATED_LINES: usize = 100_000;

/// The longest line the lexer takes, in bytes: a physical line, and a line after `$NAME`
/// replacement. keepalived reads lines into fixed buffers and refuses substitutions that would
/// overflow them; real configs stay far below this.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How deep `~SEQ`/`~LST` replication and multi-line definitions may nest inside each other.
pub const MAX_NESTING: usize = 16;

/// The loader's budget for one configuration (the main file and its includes), so that a
/// hostile or broken file is refused in bounded time and memory instead of exhausting them:
/// how many lines and braces it may produce after replication and expansion (a 5,000 x 10
/// virtual server config produces about 500,000) ...
pub const MAX_TOKENS: usize = 4_000_000;
/// ... how many bytes of text it may read, over every included file ...
pub const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;
/// ... and how many files it may include.
pub const MAX_INCLUDED_FILES: usize = 10_000;

/// One word of a line, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Inline (no allocation) up to 24 bytes, which nearly every config word is.
    pub text: CompactString,
    /// Where the word starts (the opening quote for a quoted word).
    pub span: Span,
}

/// The text between two braces: at least one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The words, `words[0]` being the keyword.
    pub words: Vec<Word>,
    /// The text of the line after comments, conditionals and expansions (quotes kept) when it
    /// is not simply the words joined by single spaces; see [`Line::raw`].
    raw: Option<String>,
}

impl Line {
    /// The first word (the keyword).
    pub fn keyword(&self) -> &Word {
        &self.words[0]
    }

    /// Word `index` (1 = first argument), if present.
    pub fn arg(&self, index: usize) -> Option<&Word> {
        self.words.get(index)
    }

    /// Where the line starts.
    pub fn span(&self) -> &Span {
        &self.keyword().span
    }

    /// The text of the line after comments, conditionals and expansions (quotes kept), which
    /// script keywords re-split with [`split_quoted_escaped`] as keepalived does.
    pub fn raw(&self) -> Cow<'_, str> {
        match &self.raw {
            Some(raw) => Cow::Borrowed(raw),
            None => Cow::Owned(join_words(&self.words)),
        }
    }

    /// A line of `words` whose text is `raw`; the text is kept only when the words joined by
    /// single spaces would not give it back (most lines need no copy).
    fn new(words: Vec<Word>, raw: &str) -> Line {
        let simple = raw.len() + 1 == words.iter().map(|w| w.text.len() + 1).sum::<usize>()
            && raw.split(' ').eq(words.iter().map(|w| w.text.as_str()));
        Line {
            raw: (!simple).then(|| raw.to_owned()),
            words,
        }
    }
}

fn join_words(words: &[Word]) -> String {
    let mut s = String::with_capacity(words.iter().map(|w| w.text.len() + 1).sum());
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&w.text);
    }
    s
}

/// One element of the token stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Line(Line),
    /// `{`
    Open(Span),
    /// `}`
    Close(Span),
}

/// Lexes the file `path` and everything it includes. Only a failure to read `path` itself is an
/// `Err`; problems with included files are diagnostics.
pub fn lex_file(
    path: &Path,
    config_id: &str,
    diags: &mut Diagnostics,
) -> Result<Vec<Token>, std::io::Error> {
    let bytes = std::fs::read(path)?;
    Ok(lex_str(
        path,
        &String::from_utf8_lossy(&bytes),
        config_id,
        diags,
    ))
}

/// Lexes `text` as if it were the file `name` (includes resolve relative to its directory).
pub fn lex_str(name: &Path, text: &str, config_id: &str, diags: &mut Diagnostics) -> Vec<Token> {
    let (tokens, found) = lex_keyed(name, text, config_id);
    diags.0.extend(found.into_iter().map(|(_, d)| d));
    tokens
}

/// Like [`lex_str`], but each diagnostic comes with the number of tokens emitted before it was
/// found, so that the parser can merge its own diagnostics in stream order.
pub fn lex_keyed(
    name: &Path,
    text: &str,
    config_id: &str,
) -> (Vec<Token>, Vec<(usize, Diagnostic)>) {
    let mut stream = Stream::new(name, text, config_id);
    let mut tokens = Vec::new();
    while let Some(t) = stream.next() {
        tokens.push(t);
    }
    (tokens, stream.finish())
}

/// The tokens of a file, lexed a physical line at a time as they are taken, so that a large
/// config is never held as a whole token list (the parser consumes each line before the next
/// one is lexed). An `include`d file is lexed whole when its `include` line is reached.
pub struct Stream<'a> {
    lexer: Lexer,
    file: FileId,
    lines: std::iter::Enumerate<PhysicalLines<'a>>,
    /// A multi-line definition still being read (see [`Lexer::source_line`]).
    continuing: Option<usize>,
}

impl<'a> Stream<'a> {
    /// A stream over `text`, read as the file `name` (includes resolve relative to its dir).
    pub fn new(name: &Path, text: &'a str, config_id: &str) -> Stream<'a> {
        Stream {
            lexer: Lexer::new(
                config_id,
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
                    | 1,
            ),
            file: FileId::of(name),
            lines: PhysicalLines(Some(text)).enumerate(),
            continuing: None,
        }
    }

    /// `-e/--all-config`: every plain `include` checks as `includea` (keepalived's
    /// `include_check` with no argument: a missing, unmatched or unreadable file is an error).
    pub fn with_all_config(mut self, all_config: bool) -> Self {
        self.lexer.all_config = all_config;
        self
    }

    /// Whether an include check failed so far (keepalived 2.2.7 refuses to start then, with
    /// exit code 6, and `-t` exits 6).
    pub fn missing_files(&self) -> bool {
        self.lexer.missing_files
    }

    /// Lexes lines until a token is ready; false at the end of the text.
    fn fill(&mut self) -> bool {
        while self.lexer.tokens.is_empty() {
            let Some((index, physical)) = self.lines.next() else {
                return false;
            };
            self.lexer
                .source_line(self.file, index, physical, 0, &mut self.continuing);
        }
        true
    }

    /// The next token.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Token> {
        self.fill();
        self.lexer.tokens.pop_front()
    }

    /// The next token, left in the stream.
    pub fn peek(&mut self) -> Option<&Token> {
        self.fill();
        self.lexer.tokens.front()
    }

    /// Lexes whatever is left (dropping its tokens) and returns the lexer's diagnostics, each
    /// with the number of tokens emitted before it was found.
    pub fn finish(&mut self) -> Vec<(usize, Diagnostic)> {
        while self.next().is_some() {}
        self.lexer.assign_keys();
        let keys = std::mem::take(&mut self.lexer.keys);
        let diags = std::mem::take(&mut self.lexer.diags.0);
        keys.into_iter().zip(diags).collect()
    }
}

/// A character with the column it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LChar {
    ch: char,
    col: u32,
}

type LText = Vec<LChar>;

/// The physical lines of a text: its pieces between `\n`s (as `str::split('\n')` gives them),
/// found with `memchr`.
struct PhysicalLines<'a>(Option<&'a str>);

impl<'a> Iterator for PhysicalLines<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let text = self.0?;
        match memchr::memchr(b'\n', text.as_bytes()) {
            Some(i) => {
                self.0 = Some(&text[i + 1..]);
                Some(&text[..i])
            }
            None => {
                self.0 = None;
                Some(text)
            }
        }
    }
}

/// Where a logical line comes from.
#[derive(Debug, Clone)]
struct Pos {
    file: FileId,
    line: u32,
}

impl Pos {
    fn span(&self, col: u32) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col,
        }
    }
}

/// `$NAME=value` or one of keepalived's standard definitions.
#[derive(Debug, Clone)]
struct Definition {
    name: String,
    /// The value's lines: one unless defined with trailing `\`.
    lines: Vec<String>,
    /// Defined with a trailing `\`: can only be used at the end of a line, and each of its
    /// lines becomes a line of the config.
    multiline: bool,
    builtin: Option<Builtin>,
}

/// keepalived's standard definitions (`set_std_definitions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    /// `${_PWD}`: the directory of the file being read (keepalived chdir()s there).
    Pwd,
    /// `${_INSTANCE}`: the config id.
    Instance,
    /// `${_RANDOM [MIN [MAX]]}`: a random number, 0-32767 by default.
    Random,
    /// `${_HASH}` and `${_BANG}`: a literal `#` / `!`.
    Literal(char),
}

fn builtin_definitions() -> Vec<Definition> {
    let def = |name: &str, builtin| Definition {
        name: name.to_string(),
        lines: Vec::new(),
        multiline: false,
        builtin: Some(builtin),
    };
    vec![
        def("_PWD", Builtin::Pwd),
        def("_INSTANCE", Builtin::Instance),
        def("_RANDOM", Builtin::Random),
        def("_HASH", Builtin::Literal('#')),
        def("_BANG", Builtin::Literal('!')),
    ]
}

/// `include` and its stricter variants (keepalived's `include_t`).
#[derive(Debug, Clone, Copy, Default)]
struct IncludeCheck {
    /// Error if a match is a directory or cannot be read (`INCLUDE_R`).
    readable: bool,
    /// Error if a literal path does not exist (`INCLUDE_M`).
    missing: bool,
    /// Error if a wildcard matches nothing (`INCLUDE_W`).
    wildcard: bool,
    /// Error if a brace alternative matches nothing (`INCLUDE_B`).
    brace: bool,
}

impl IncludeCheck {
    /// `includea`, and a plain `include` under `-e`: every check.
    const ALL: IncludeCheck = IncludeCheck {
        readable: true,
        missing: true,
        wildcard: true,
        brace: true,
    };
}

/// A regular file this process can open for reading (what `includer` requires).
fn is_readable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) && std::fs::File::open(path).is_ok()
}

struct Lexer {
    config_id: String,
    diags: Diagnostics,
    /// For each diagnostic, the number of tokens emitted before it.
    keys: Vec<usize>,
    defs: Vec<Definition>,
    /// Tokens lexed and not yet taken.
    tokens: VecDeque<Token>,
    /// Tokens emitted so far.
    emitted: usize,
    /// xorshift state for `${_RANDOM}`.
    rng: u64,
    /// Bytes of source text read so far (the main file's lines and every included file).
    source_bytes: usize,
    /// Files included so far.
    included: usize,
    /// [`MAX_TOKENS`] (lowered by unit tests).
    max_tokens: usize,
    /// Set once a budget ([`MAX_TOKENS`], [`MAX_SOURCE_BYTES`], [`MAX_INCLUDED_FILES`]) is
    /// exhausted: the error is reported once and the rest of the configuration is not read.
    exhausted: bool,
    /// `-e/--all-config`: a plain `include` checks as `includea`.
    all_config: bool,
    /// An include check failed (a file missing, unmatched or unreadable where the include
    /// kind requires it): keepalived 2.2.7 does not start then (exit 6).
    missing_files: bool,
}

impl Lexer {
    /// A lexer for config id `config_id` (`@ID` lines), its `${_RANDOM}` seeded with `rng`
    /// (odd).
    fn new(config_id: &str, rng: u64) -> Lexer {
        Lexer {
            config_id: config_id.to_string(),
            diags: Diagnostics::default(),
            keys: Vec::new(),
            defs: builtin_definitions(),
            tokens: VecDeque::new(),
            emitted: 0,
            rng,
            source_bytes: 0,
            included: 0,
            max_tokens: MAX_TOKENS,
            exhausted: false,
            all_config: false,
            missing_files: false,
        }
    }

    /// Reports that the configuration is over a budget, once; everything after is skipped.
    fn exhaust(&mut self, span: &Span, what: String) {
        if !self.exhausted {
            self.exhausted = true;
            self.diags.error(
                span,
                format!("{what}; the rest of the configuration is not read (refused)"),
            );
        }
    }

    /// Records the stream position of diagnostics found since the last token.
    fn assign_keys(&mut self) {
        let at = self.emitted;
        let missing = self.diags.0.len() - self.keys.len();
        self.keys.extend(std::iter::repeat_n(at, missing));
    }

    fn push_token(&mut self, token: Token) {
        if self.exhausted {
            return;
        }
        if self.emitted >= self.max_tokens {
            let span = match &token {
                Token::Open(s) | Token::Close(s) => *s,
                Token::Line(l) => *l.span(),
            };
            self.exhaust(
                &span,
                format!(
                    "the configuration produces more than {} lines and braces",
                    self.max_tokens
                ),
            );
            return;
        }
        self.assign_keys();
        self.tokens.push_back(token);
        self.emitted += 1;
    }

    /// Lexes the text of one file.
    fn source(&mut self, file: FileId, text: &str, depth: usize) {
        // Index of a multi-line definition still being read.
        let mut continuing: Option<usize> = None;
        for (index, physical) in PhysicalLines(Some(text)).enumerate() {
            self.source_line(file, index, physical, depth, &mut continuing);
        }
    }

    /// Lexes physical line `index` (0-based) of `file`. `continuing` is the multi-line
    /// definition still being read, carried from line to line.
    fn source_line(
        &mut self,
        file: FileId,
        index: usize,
        physical: &str,
        depth: usize,
        continuing: &mut Option<usize>,
    ) {
        if self.exhausted {
            return;
        }
        let physical = physical.trim_end_matches(['\r', '\n']);
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        self.source_bytes += physical.len() + 1;
        if self.source_bytes > MAX_SOURCE_BYTES {
            let span = Pos { file, line }.span(1);
            self.exhaust(
                &span,
                format!("the configuration is larger than {MAX_SOURCE_BYTES} bytes"),
            );
            return;
        }
        if physical.len() > MAX_LINE_BYTES {
            self.diags.error(
                &Pos { file, line }.span(1),
                format!(
                    "line of {} bytes is longer than the limit of {MAX_LINE_BYTES}; ignored",
                    physical.len()
                ),
            );
            return;
        }
        if continuing.is_none() && self.plain_line(physical, file, line) {
            return;
        }
        let pos = Pos { file, line };
        if let Some(def) = *continuing {
            // keepalived: an empty line ends a multi-line definition; other lines are
            // decommented and appended, and the first one without a trailing `\` is the last.
            if physical.is_empty() {
                *continuing = None;
                return;
            }
            let (chars, _) = decomment(locate(physical));
            if chars.is_empty() {
                return;
            }
            let mut line = text_of(&chars);
            let more = line.ends_with('\\');
            if more {
                line.pop();
                line.truncate(line.trim_end_matches([' ', '\t']).len());
            } else {
                *continuing = None;
            }
            if !line.is_empty() {
                self.defs[def].lines.push(line);
            }
            return;
        }
        let (chars, _) = decomment(locate(physical));
        if chars.is_empty() {
            return;
        }
        *continuing = self.logical(chars, &pos, depth, 0);
    }

    /// The common case of a physical line, without the per-character bookkeeping of the
    /// general path: ASCII, and nothing that comments, quotes, escapes, conditionals,
    /// definitions, replication or `include` would act on. Such a line is its pieces between
    /// braces, each split into words at blanks, and the braces; exactly what
    /// [`Lexer::logical`] makes of it. Returns false (having done nothing) for any other line.
    fn plain_line(&mut self, line: &str, file: FileId, number: u32) -> bool {
        let b = line.as_bytes();
        // One pass to decide; `include` only acts at the start of a piece (the text between
        // braces).
        let mut at_start = true;
        for (i, &c) in b.iter().enumerate() {
            match PLAIN[usize::from(c)] {
                Plain::Other => return false,
                Plain::Word => {
                    if at_start && c == b'i' && b[i..].starts_with(b"include") {
                        return false;
                    }
                    at_start = false;
                }
                Plain::Brace => at_start = true,
                Plain::Space => {}
            }
        }
        // One pass to emit: words gather until a brace or the end closes their piece.
        let span = |col: usize| Span {
            file,
            line: number,
            col: col_of(col),
        };
        let mut words: Vec<Word> = Vec::with_capacity(4);
        // Whether every gap between words is one ' ' (then the words give the raw text back).
        let mut simple = true;
        let mut piece = 0;
        let mut i = 0;
        while i < b.len() {
            match PLAIN[usize::from(b[i])] {
                Plain::Word => {
                    let w = i;
                    while i < b.len() && PLAIN[usize::from(b[i])] == Plain::Word {
                        i += 1;
                    }
                    if let Some(last) = words.last() {
                        let end = last.span.col as usize - 1 + last.text.len();
                        simple &= w == end + 1 && b[end] == b' ';
                    }
                    words.push(Word {
                        text: CompactString::from(&line[w..i]),
                        span: span(w),
                    });
                }
                Plain::Space => i += 1,
                _ => {
                    self.emit_piece(line, piece, i, &mut words, simple);
                    simple = true;
                    self.push_token(if b[i] == b'{' {
                        Token::Open(span(i))
                    } else {
                        Token::Close(span(i))
                    });
                    i += 1;
                    piece = i;
                }
            }
        }
        self.emit_piece(line, piece, b.len(), &mut words, simple);
        true
    }

    /// Emits the words gathered from `line[start..end]` (a piece [`Lexer::plain_line`]
    /// accepted) as a line, as [`Lexer::emit_line`] would: its raw text is the piece without
    /// leading and trailing blanks, kept unless it is the words joined by single spaces
    /// (`single_gaps`: every gap between words was one ' ').
    fn emit_piece(
        &mut self,
        line: &str,
        start: usize,
        end: usize,
        words: &mut Vec<Word>,
        single_gaps: bool,
    ) {
        let (Some(first), Some(last)) = (words.first(), words.last()) else {
            return;
        };
        let b = line.as_bytes();
        let (mut s, mut e) = (start, end);
        while s < e && is_blank(char::from(b[s])) {
            s += 1;
        }
        while e > s && is_blank(char::from(b[e - 1])) {
            e -= 1;
        }
        let words_span = (
            first.span.col as usize - 1,
            last.span.col as usize - 1 + last.text.len(),
        );
        let raw = (!single_gaps || (s, e) != words_span).then(|| line[s..e].to_owned());
        self.push_token(Token::Line(Line {
            words: std::mem::take(words),
            raw,
        }));
    }

    /// Processes one decommented line. Returns the index of a multi-line definition that this
    /// line started, whose continuation lines follow.
    ///
    /// The text after each brace (keepalived's "line residue") is processed again as a line
    /// of its own, so that an `include`, `@ID` or `$NAME=` right after a brace works as in
    /// keepalived; that happens in this loop, one piece per round, so a line of thousands of
    /// braces costs neither stack nor copies. The remaining lines of multi-line definitions
    /// used at a piece's end follow the line, innermost piece first, one [`MAX_NESTING`]
    /// level deeper.
    fn logical(
        &mut self,
        mut text: LText,
        pos: &Pos,
        depth: usize,
        nesting: usize,
    ) -> Option<usize> {
        if nesting > MAX_NESTING {
            let span = pos.span(text.first().map_or(1, |c| c.col));
            self.diags.error(
                &span,
                format!(
                    "~SEQ/~LST replication and multi-line definitions nest more than \
                     {MAX_NESTING} deep; line ignored (does a definition use itself?)"
                ),
            );
            return None;
        }
        let mut queues: Vec<VecDeque<LText>> = Vec::new();
        let mut started = None;
        let mut residue = false;
        // The piece being processed is `text[at..]`: the residue after a brace is found by
        // moving `at`, not by copying the rest of the line.
        let mut at = 0;
        'pieces: while !self.exhausted {
            let mut queued: VecDeque<LText> = VecDeque::new();
            let mut rounds = 0;
            loop {
                let here = &text[at..];
                if here.first().map(|c| c.ch) == Some('@') {
                    match self.conditional(here) {
                        Some(rest) => (text, at) = (rest, 0),
                        None => break 'pieces,
                    }
                }
                let here = &text[at..];
                if here.first().map(|c| c.ch) == Some('$')
                    && let Some(def) = self.definition(here)
                {
                    match def {
                        // A definition after a brace cannot continue on the next physical
                        // lines.
                        Some(d) if residue => self.defs[d].multiline = false,
                        def => started = def,
                    }
                    break 'pieces;
                }
                if starts_with(here, "~SEQ") || starts_with(here, "~LST") {
                    let here = here.to_vec();
                    self.replicate(&here, pos, depth, nesting);
                    break 'pieces;
                }
                if here.first().map(|c| c.ch) == Some('~') {
                    break;
                }
                if !here.iter().any(|c| c.ch == '$') {
                    break;
                }
                let Some((expanded, more)) = self.expand(here, pos) else {
                    break;
                };
                (text, at) = (expanded, 0);
                queued.extend(more);
                rounds += 1;
                let recheck =
                    text.first().map(|c| c.ch) == Some('@') || text.iter().any(|c| c.ch == '$');
                if !recheck || rounds > 16 {
                    break;
                }
            }
            queues.push(queued);
            let here = trim_start(&text[at..]);
            let lead = text.len() - at - here.len();
            let piece = trim(here);
            if piece.is_empty() {
                break;
            }
            if let Some(check) = include_kind(piece) {
                let check = if self.all_config {
                    IncludeCheck::ALL
                } else {
                    check
                };
                let piece = piece.to_vec();
                self.include(&piece, check, pos, depth);
                break;
            }
            match self.split_braces(piece, pos) {
                Some(rest) => {
                    at += lead + rest;
                    residue = true;
                }
                None => break,
            }
        }
        for queued in queues.into_iter().rev() {
            for line in queued {
                self.logical(line, pos, depth, nesting + 1);
            }
        }
        started
    }

    /// `@ID rest` / `@^ID rest`: the rest of the line if it applies to this config id.
    fn conditional(&self, text: &[LChar]) -> Option<LText> {
        let (negated, start) = if text.get(1).map(|c| c.ch) == Some('^') {
            (true, 2)
        } else {
            (false, 1)
        };
        let end = start
            + text[start..]
                .iter()
                .position(|c| c.ch == ' ' || c.ch == '\t')?;
        let id: String = text[start..end].iter().map(|c| c.ch).collect();
        let matches = !self.config_id.is_empty() && id == self.config_id;
        if matches == negated {
            return None;
        }
        Some(trim(&text[end..]).to_vec())
    }

    /// `$NAME=value`: records the definition. Returns `None` if the line is not a definition,
    /// `Some(Some(i))` if it starts multi-line definition `i`, `Some(None)` otherwise.
    fn definition(&mut self, text: &[LChar]) -> Option<Option<usize>> {
        let s = text_of(text);
        let body = &s[1..];
        let first = body.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        if body.as_bytes()[name_len] != b'=' {
            return None;
        }
        let name = body[..name_len].to_string();
        let mut value = body[name_len + 1..]
            .trim_start_matches([' ', '\t'])
            .to_string();
        let multiline = value.ends_with('\\');
        if multiline {
            value.pop();
            value.truncate(value.trim_end_matches([' ', '\t']).len());
        }
        let lines = if value.is_empty() && multiline {
            Vec::new()
        } else {
            vec![value]
        };
        let def = Definition {
            name: name.clone(),
            lines,
            multiline,
            builtin: None,
        };
        let index = match self.defs.iter().position(|d| d.name == name) {
            Some(i) => {
                self.defs[i] = def;
                i
            }
            None => {
                self.defs.push(def);
                self.defs.len() - 1
            }
        };
        Some(multiline.then_some(index))
    }

    /// Sets (or replaces) a one-line definition, as `~SEQ` and `~LST` do for their variables.
    fn set_definition(&mut self, name: &str, value: String) {
        let def = Definition {
            name: name.to_string(),
            lines: vec![value],
            multiline: false,
            builtin: None,
        };
        match self.defs.iter().position(|d| d.name == name) {
            Some(i) => self.defs[i] = def,
            None => self.defs.push(def),
        }
    }

    /// One pass of `$NAME` / `${NAME}` replacement (keepalived `replace_param`). Returns the new
    /// text and the remaining lines of a multi-line definition used at the end of the line, or
    /// `None` if nothing was replaced.
    fn expand(&mut self, text: &[LChar], pos: &Pos) -> Option<(LText, Vec<LText>)> {
        let mut out: LText = text.to_vec();
        let mut more: Vec<LText> = Vec::new();
        let mut replaced = 0;
        let mut i = 0;
        while i + 1 < out.len() {
            if out[i].ch != '$' {
                i += 1;
                continue;
            }
            let Some(reference) = self.find_reference(&out, i) else {
                i += 1;
                continue;
            };
            replaced += 1;
            if replaced > MAX_EXPANSIONS_PER_LINE {
                self.diags.error(
                    &pos.span(out[i].col),
                    format!(
                        "more than {MAX_EXPANSIONS_PER_LINE} parameter replacements on one line; \
                         is a definition using itself?"
                    ),
                );
                return None;
            }
            let col = out[i].col;
            let (value, rest) = self.value_of(&reference, pos);
            if out.len() - (reference.end - i) + value.len() > MAX_LINE_BYTES {
                self.diags.error(
                    &pos.span(col),
                    format!(
                        "parameter substitution would make the line longer than \
                         {MAX_LINE_BYTES} bytes; line ignored"
                    ),
                );
                return Some((Vec::new(), Vec::new()));
            }
            let value_chars: LText = value.chars().map(|ch| LChar { ch, col }).collect();
            let stops = value.trim_start_matches([' ', '\t']).starts_with('~');
            out.splice(i..reference.end, value_chars);
            if !rest.is_empty() {
                more = rest
                    .into_iter()
                    .map(|l| l.chars().map(|ch| LChar { ch, col }).collect())
                    .collect();
            }
            if stops {
                break;
            }
            // keepalived rescans from the same place, so values may use other definitions.
        }
        (replaced > 0).then_some((out, more))
    }

    /// The definition referenced at `text[at]` (a `$`), following keepalived's
    /// `find_definition` rules.
    fn find_reference(&self, text: &[LChar], at: usize) -> Option<Reference> {
        let braces = text.get(at + 1)?.ch == '{';
        let start = at + 1 + usize::from(braces);
        let first = text.get(start)?.ch;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let mut end = start + 1;
        while end < text.len() && (text[end].ch.is_ascii_alphanumeric() || text[end].ch == '_') {
            end += 1;
        }
        let name: String = text[start..end].iter().map(|c| c.ch).collect();
        let mut params = None;
        let after = if braces {
            // `${_RANDOM 1 6}`: digits and spaces before the `}`.
            let mut p = end;
            while p < text.len() && (text[p].ch == ' ' || text[p].ch.is_ascii_digit()) {
                p += 1;
            }
            if text.get(p).map(|c| c.ch) != Some('}') {
                return None;
            }
            if p > end {
                let given: String = text[end..p].iter().map(|c| c.ch).collect();
                if given.ends_with(' ') {
                    return None;
                }
                params = Some(given.trim().to_string());
            }
            p + 1
        } else {
            match text.get(end).map(|c| c.ch) {
                None | Some(' ' | '\t' | ',' | ')') => end,
                Some(_) => return None,
            }
        };
        let at_end = after == text.len();
        let index = self
            .defs
            .iter()
            .position(|d| d.name == name && (at_end || !d.multiline))?;
        if params.is_some() && self.defs[index].builtin != Some(Builtin::Random) {
            return None;
        }
        Some(Reference {
            index,
            end: after,
            params,
        })
    }

    /// The replacement text of a reference, and the further lines of a multi-line definition.
    fn value_of(&mut self, reference: &Reference, pos: &Pos) -> (String, Vec<String>) {
        let def = &self.defs[reference.index];
        match def.builtin {
            Some(Builtin::Pwd) => {
                let file = pos.file.path();
                let dir = file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_default();
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                (dir.display().to_string(), Vec::new())
            }
            Some(Builtin::Instance) => (self.config_id.clone(), Vec::new()),
            Some(Builtin::Literal(c)) => (c.to_string(), Vec::new()),
            Some(Builtin::Random) => {
                let mut bounds = reference
                    .params
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .filter_map(|n| n.parse::<u64>().ok());
                let (min, max) = match (bounds.next(), bounds.next()) {
                    (Some(min), Some(max)) => (min, max),
                    (Some(min), None) => (min, 32767),
                    _ => (0, 32767),
                };
                let span = max.saturating_sub(min).saturating_add(1);
                (format!("{}", min + self.next_random() % span), Vec::new())
            }
            None => {
                let mut lines = def.lines.clone().into_iter();
                let first = lines.next().unwrap_or_default();
                (first, lines.collect())
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: ${_RANDOM} only needs variety, not quality.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// `~SEQ(...)`, `~SEQx(...)` and `~LST(...)`: define the variable(s) for each value and
    /// process the rest of the line once per value (keepalived `add_seq`, `add_lst`).
    fn replicate(&mut self, text: &[LChar], pos: &Pos, depth: usize, nesting: usize) {
        if self.exhausted {
            return;
        }
        let s = text_of(text);
        let span = pos.span(text[0].col);
        let Some(close) = s.find(')') else {
            self.diags
                .error(&span, format!("Invalid {} specification '{s}'", &s[..4]));
            return;
        };
        let head = &s[..close];
        let body_start = s[close + 1..]
            .find(|c| c != ' ' && c != '\t')
            .map(|o| close + 1 + o)
            .unwrap_or(s.len());
        let body: LText = text[s[..body_start].chars().count()..].to_vec();
        let sets = if s.starts_with("~SEQ") {
            self.seq_values(head, pos)
        } else {
            lst_values(head)
        };
        let Some(sets) = sets else {
            self.diags
                .error(&span, format!("Invalid {} specification '{s}'", &s[..4]));
            return;
        };
        if sets.len() > MAX_REPLICATED_LINES {
            self.diags.error(
                &span,
                format!(
                    "{} would produce more than {MAX_REPLICATED_LINES} lines; ignored",
                    &s[..4]
                ),
            );
            return;
        }
        for set in sets {
            if self.exhausted {
                return;
            }
            for (name, value) in set {
                self.set_definition(&name, value);
            }
            if let Some(def) = self.logical(body.clone(), pos, depth, nesting + 1) {
                // A definition inside a replicated line cannot continue on the next physical
                // lines (those belong to the file, not to the replicated text).
                self.defs[def].multiline = false;
            }
        }
    }

    /// The values of `~SEQ(var, [start,] [step,] end)` / `~SEQx(...)` as one-variable sets.
    fn seq_values(&mut self, head: &str, pos: &Pos) -> Option<Vec<Vec<(String, String)>>> {
        let mut rest = &head[4..];
        let hex = rest.starts_with('x');
        if hex {
            rest = &rest[1..];
        }
        let rest = rest.trim_start().strip_prefix('(')?;
        let (var, numbers) = rest.split_once(',')?;
        let var = var.trim();
        if var.is_empty() || var.contains([' ', '\t']) {
            return None;
        }
        // The numbers may themselves be definitions.
        let mut numbers_text: LText = numbers.chars().map(|ch| LChar { ch, col: 0 }).collect();
        numbers_text.push(LChar { ch: ')', col: 0 });
        if let Some((expanded, _)) = self.expand(&numbers_text, pos) {
            numbers_text = expanded;
        }
        let numbers = text_of(&numbers_text);
        let numbers: Vec<i64> = numbers
            .trim_end_matches(')')
            .split(',')
            .map(|n| parse_c_long(n.trim()))
            .collect::<Option<_>>()?;
        let (start, step, end) = match numbers[..] {
            [end] => (
                if end < 0 { -1 } else { 1 },
                if end < 1 { -1 } else { 1 },
                end,
            ),
            [start, end] => (start, if start <= end { 1 } else { -1 }, end),
            [start, step, end] => {
                if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                    return None;
                }
                (start, step, end)
            }
            _ => return None,
        };
        if hex && (start < 0 || end < 0) {
            return None;
        }
        let mut sets = Vec::new();
        let mut value = start;
        while (step > 0 && value <= end) || (step < 0 && value >= end) {
            let shown = if hex {
                format!("{value:x}")
            } else {
                value.to_string()
            };
            sets.push(vec![(var.to_string(), shown)]);
            if sets.len() > MAX_REPLICATED_LINES {
                break;
            }
            value = value.checked_add(step)?;
        }
        Some(sets)
    }

    /// `include PATTERN`: lexes every file the pattern matches.
    fn include(&mut self, text: &[LChar], check: IncludeCheck, pos: &Pos, depth: usize) {
        let s = text_of(text);
        let word_end = s.find([' ', '\t']).unwrap_or(s.len());
        let pattern = s[word_end..].trim_start_matches([' ', '\t']).to_string();
        let span = pos.span(text[0].col);
        if pattern.is_empty() {
            self.diags.error(&span, "include without a file name");
            return;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            self.diags.error(
                &span,
                format!(
                    "include depth limit ({MAX_INCLUDE_DEPTH}) reached; '{pattern}' not included \
                     (do included files include each other?)"
                ),
            );
            return;
        }
        let including = pos.file.path();
        let base = including
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        let mut files: Vec<PathBuf> = Vec::new();
        let (mut missing_literal, mut missing_wildcard) = (false, false);
        for alternative in expand_braces(&pattern) {
            let full = match &base {
                Some(dir) if !alternative.starts_with('/') => dir.join(&alternative),
                _ => PathBuf::from(&alternative),
            };
            let matches = glob_paths(&full);
            if matches.is_empty() {
                if alternative.contains(['*', '?', '[']) {
                    missing_wildcard = true;
                } else {
                    missing_literal = true;
                }
            }
            files.extend(matches);
        }
        self.no_match(&span, &pattern, missing_literal, missing_wildcard, check);
        for file in files {
            self.include_file(file, &span, check, depth);
        }
    }

    /// Reports include alternatives that matched nothing, once per pattern and as loudly as the
    /// include kind asks (keepalived `open_and_check_glob`).
    fn no_match(
        &mut self,
        span: &Span,
        pattern: &str,
        missing_literal: bool,
        missing_wildcard: bool,
        check: IncludeCheck,
    ) {
        if missing_literal {
            let message = format!("Config files missing '{pattern}'.");
            if check.missing || check.brace {
                self.missing_files = true;
                self.diags.error(span, message);
            } else {
                self.diags.warn(span, message);
            }
        } else if missing_wildcard && check.wildcard {
            self.missing_files = true;
            self.diags
                .error(span, format!("No config files matched '{pattern}'."));
        }
        // A plain `include dir/*.conf` of an empty directory is normal: keepalived is silent.
    }

    fn include_file(&mut self, file: PathBuf, span: &Span, check: IncludeCheck, depth: usize) {
        if self.exhausted {
            return;
        }
        self.included += 1;
        if self.included > MAX_INCLUDED_FILES {
            self.exhaust(
                span,
                format!("the configuration includes more than {MAX_INCLUDED_FILES} files"),
            );
            return;
        }
        self.missing_files |= check.readable && !is_readable_file(&file);
        let report = |diags: &mut Diagnostics, message: String| {
            if check.readable {
                diags.error(span, message);
            } else {
                diags.warn(span, message);
            }
        };
        let meta = match std::fs::metadata(&file) {
            Ok(meta) => meta,
            Err(e) => {
                report(
                    &mut self.diags,
                    format!(
                        "Configuration file '{}' open problem ({e}) - skipping",
                        file.display()
                    ),
                );
                return;
            }
        };
        if meta.is_dir() {
            report(
                &mut self.diags,
                format!(
                    "Configuration file '{}' is a directory - skipping",
                    file.display()
                ),
            );
            return;
        }
        if !meta.is_file() || is_executable(&meta) {
            report(
                &mut self.diags,
                format!(
                    "Configuration file '{}' is not a regular non-executable file - skipping",
                    file.display()
                ),
            );
            return;
        }
        match std::fs::read(&file) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.source(FileId::of(&file), &text, depth + 1);
            }
            Err(e) => report(
                &mut self.diags,
                format!(
                    "Configuration file '{}' open problem ({e}) - skipping",
                    file.display()
                ),
            ),
        }
    }

    /// Emits the text before the first brace outside double quotes, then the brace, and
    /// returns where the rest of the piece starts (keepalived's "line residue", which
    /// [`Lexer::logical`] processes again), blanks skipped; `None` when the piece has no
    /// brace (it is emitted whole) or nothing follows the brace.
    fn split_braces(&mut self, text: &[LChar], pos: &Pos) -> Option<usize> {
        let mut quoted = false;
        let cut = text.iter().position(|c| {
            if c.ch == '"' {
                quoted = !quoted;
            }
            !quoted && (c.ch == '{' || c.ch == '}')
        });
        let Some(cut) = cut else {
            self.emit_line(text, pos);
            return None;
        };
        if cut > 0 {
            self.emit_line(&text[..cut], pos);
        }
        let brace = text[cut];
        let span = pos.span(brace.col);
        self.push_token(if brace.ch == '{' {
            Token::Open(span)
        } else {
            Token::Close(span)
        });
        let rest = trim_start(&text[cut + 1..]);
        (!rest.is_empty()).then(|| text.len() - rest.len())
    }

    /// Splits a brace-free piece into words (keepalived `alloc_strvec_r`) and emits it.
    fn emit_line(&mut self, text: &[LChar], pos: &Pos) {
        let text = trim(text);
        let mut words = Vec::new();
        let mut i = 0;
        while i < text.len() {
            if is_space(text[i].ch) {
                i += 1;
                continue;
            }
            let start = i;
            let word: CompactString = if text[i].ch == '"' {
                let Some(close) = text[i + 1..].iter().position(|c| c.ch == '"') else {
                    self.diags.error(
                        &pos.span(text[i].col),
                        format!("Unmatched quote: '{}'", text_of(text)),
                    );
                    break;
                };
                let w = text[i + 1..i + 1 + close].iter().map(|c| c.ch).collect();
                i += close + 2;
                w
            } else {
                let len = text[i..]
                    .iter()
                    .position(|c| is_space(c.ch) || c.ch == '"')
                    .unwrap_or(text.len() - i);
                let w = text[i..i + len].iter().map(|c| c.ch).collect();
                i += len;
                w
            };
            words.push(Word {
                text: word,
                span: pos.span(text[start].col),
            });
        }
        if !words.is_empty() {
            self.push_token(Token::Line(Line::new(words, &text_of(text))));
        }
    }
}

/// A `$NAME` reference found in a line.
#[derive(Debug)]
struct Reference {
    index: usize,
    /// Index just past the reference.
    end: usize,
    params: Option<String>,
}

/// How [`Lexer::plain_line`] sees a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plain {
    /// Part of a word.
    Word,
    /// keepalived's `WHITE_SPACE` ([`is_space`]).
    Space,
    /// `{` or `}`.
    Brace,
    /// Needs the general path: non-ASCII, or a byte that quotes, escapes, comments, or starts
    /// a conditional, definition, expansion or replication (`"`, `\\`, `#`, `!`, `@`, `$`, `~`).
    Other,
}

/// [`Plain`] by byte value.
static PLAIN: [Plain; 256] = {
    let mut t = [Plain::Other; 256];
    let mut c = 0;
    while c < 128 {
        t[c] = match c as u8 {
            b' ' | b'\t' | 0x0c | b'\n' | b'\r' | 0x0b => Plain::Space,
            b'{' | b'}' => Plain::Brace,
            b'"' | b'\\' | b'#' | b'!' | b'@' | b'$' | b'~' => Plain::Other,
            _ => Plain::Word,
        };
        c += 1;
    }
    t
};

/// The 1-based column of byte `index` of an ASCII line.
fn col_of(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn locate(line: &str) -> LText {
    line.chars()
        .enumerate()
        .map(|(i, ch)| LChar {
            ch,
            col: u32::try_from(i + 1).unwrap_or(u32::MAX),
        })
        .collect()
}

fn text_of(text: &[LChar]) -> String {
    text.iter().map(|c| c.ch).collect()
}

fn starts_with(text: &[LChar], prefix: &str) -> bool {
    text.len() >= prefix.len() && text.iter().zip(prefix.chars()).all(|(c, p)| c.ch == p)
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// keepalived's `WHITE_SPACE`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}' | '\n' | '\r' | '\u{b}')
}

fn trim_start(text: &[LChar]) -> &[LChar] {
    let start = text
        .iter()
        .position(|c| !is_blank(c.ch))
        .unwrap_or(text.len());
    &text[start..]
}

fn trim(text: &[LChar]) -> &[LChar] {
    let text = trim_start(text);
    let end = text
        .iter()
        .rposition(|c| !is_blank(c.ch))
        .map_or(0, |e| e + 1);
    &text[..end]
}

/// keepalived's `decomment`: drops a `#`/`!` comment outside double quotes, un-escapes `\#` and
/// `\!`, trims blanks. A trailing `\` is kept (it continues `$NAME=` definitions); the `bool`
/// says whether there was one.
fn decomment(chars: LText) -> (LText, bool) {
    let mut out: LText = Vec::with_capacity(chars.len());
    let mut quoted = false;
    let mut comment = false;
    let mut continued: Option<LChar> = None;
    let mut i = 0;
    let chars = trim_start(&chars).to_vec();
    while i < chars.len() {
        let c = chars[i];
        match c.ch {
            '"' if !comment => quoted = !quoted,
            '\\' => {
                let Some(next) = chars.get(i + 1) else {
                    continued = Some(c);
                    break;
                };
                if !quoted && (next.ch == '#' || next.ch == '!') {
                    // `\#` is a literal `#`.
                    if !comment {
                        out.push(*next);
                    }
                } else if !comment {
                    out.push(c);
                    out.push(*next);
                }
                i += 2;
                continue;
            }
            '#' | '!' if !quoted && !comment => comment = true,
            _ => {}
        }
        if !comment {
            out.push(c);
        }
        i += 1;
    }
    let mut out = trim(&out).to_vec();
    if let Some(backslash) = continued {
        out.push(backslash);
    }
    (out, continued.is_some())
}

/// Which include keyword starts this line, if any (keepalived `is_include`).
fn include_kind(text: &[LChar]) -> Option<IncludeCheck> {
    if !starts_with(text, "include") || text.len() <= 7 {
        return None;
    }
    let seventh = text[7].ch;
    if is_space(seventh) {
        return Some(IncludeCheck::default());
    }
    if !text.get(8).is_some_and(|c| is_space(c.ch)) {
        return None;
    }
    let all = |missing, wildcard, brace| IncludeCheck {
        readable: true,
        missing,
        wildcard,
        brace,
    };
    match seventh {
        'r' => Some(all(false, false, false)),
        'm' => Some(all(true, false, false)),
        'w' => Some(all(true, true, false)),
        'b' => Some(all(false, false, true)),
        'a' => Some(all(true, true, true)),
        _ => None,
    }
}

/// csh-style brace expansion as glibc's `GLOB_BRACE` does it: `a{b,c}d` is `abd`, `acd`;
/// braces nest; a `\` escapes the next character.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut open = None;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        return vec![pattern.to_string()];
    };
    // Find the matching `}` and the top-level commas.
    let mut level = 0;
    let mut commas = Vec::new();
    let mut close = None;
    let mut j = open + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => level += 1,
            '}' if level == 0 => {
                close = Some(j);
                break;
            }
            '}' => level -= 1,
            ',' if level == 0 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix: String = chars[..open].iter().collect();
    let suffix: String = chars[close + 1..].iter().collect();
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    bounds
        .windows(2)
        .flat_map(|w| {
            let middle: String = chars[w[0] + 1..w[1]].iter().collect();
            expand_braces(&format!("{prefix}{middle}{suffix}"))
        })
        .collect()
}

/// The paths matching a glob pattern, sorted (glibc `glob` without `GLOB_NOSORT`).
fn glob_paths(pattern: &Path) -> Vec<PathBuf> {
    let text = pattern.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    match glob::glob_with(&text, options) {
        Ok(paths) => {
            let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            found.sort();
            found
        }
        Err(_) => Vec::new(),
    }
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// `strtol(s, &end, 0)` that must consume the whole text: decimal, `0x` hex or `0` octal.
fn parse_c_long(s: &str) -> Option<i64> {
    match crate::config::values::strtol0(s)? {
        (v, used) if used > 0 && used == s.len() => Some(v),
        _ => None,
    }
}

/// The variable sets of `~LST(var, v1, v2, ...)` or `~LST({a,b}, {1,2}, {3,4})`.
fn lst_values(head: &str) -> Option<Vec<Vec<(String, String)>>> {
    let inner = head[4..].trim_start().strip_prefix('(')?;
    let groups = split_top_level(inner)?;
    let (names, values) = groups.split_first()?;
    let names = group_items(names);
    if names.is_empty() || names.iter().any(|n| n.is_empty()) || values.is_empty() {
        return None;
    }
    let mut sets = Vec::new();
    for value in values {
        let mut items = group_items(value);
        if items.len() > names.len() {
            return None;
        }
        items.resize(names.len(), String::new());
        sets.push(names.iter().cloned().zip(items).collect());
    }
    Some(sets)
}

/// Splits `a, {b, c}, d` at the commas outside braces.
fn split_top_level(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut level = 0i32;
    let mut current = String::new();
    for c in s.chars() {
        match c {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                parts.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        if level < 0 {
            return None;
        }
        current.push(c);
    }
    parts.push(current.trim().to_string());
    Some(parts)
}

/// The items of `{a, b}` or the single item `a`.
fn group_items(s: &str) -> Vec<String> {
    match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) => inner.split(',').map(|v| v.trim().to_string()).collect(),
        None => vec![s.trim().to_string()],
    }
}

/// Why [`split_quoted_escaped`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteError {
    /// A quote opened and never closed (`missing terminating "`).
    Unterminated(char),
    /// A `\` at the very end.
    TrailingEscape,
}

impl std::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuoteError::Unterminated(q) => write!(f, "missing terminating {q}"),
            QuoteError::TrailingEscape => f.write_str("missing escaped character at end"),
        }
    }
}

/// Splits a command line into words as keepalived does for scripts
/// (`alloc_strvec_quoted_escaped`): blanks outside quotes separate words, `"…"` and `'…'`
/// group (and may be glued to other text: `a"b c"` is `ab c`), and `\` escapes: `\n \t \r \a
/// \b \f \v \E`, `\xHH…`, `\NNN` (octal), `\cX` (control), and `\` before any other character
/// (including a quote or a blank) yields that character.
pub fn split_quoted_escaped(s: &str) -> Result<Vec<String>, QuoteError> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_space(chars[i]) {
            i += 1;
            continue;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (_, '\\') => {
                    i += 1;
                    let Some(&e) = chars.get(i) else {
                        return Err(QuoteError::TrailingEscape);
                    };
                    i += 1;
                    word.push(match e {
                        'x' if chars.get(i).is_some_and(char::is_ascii_hexdigit) => {
                            let mut v: u32 = 0;
                            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(16)) {
                                v = (v << 4 | d) & 0xff;
                                i += 1;
                            }
                            char::from(v as u8)
                        }
                        'c' if i < chars.len() => {
                            let ctl = chars[i] as u32 & 0x1f;
                            i += 1;
                            char::from(ctl as u8)
                        }
                        '0'..='7' => {
                            let mut v = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                match chars.get(i).and_then(|c| c.to_digit(8)) {
                                    Some(d) => {
                                        v = v * 8 + d;
                                        i += 1;
                                    }
                                    None => break,
                                }
                            }
                            char::from((v & 0xff) as u8)
                        }
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'E' => '\u{1b}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{b}',
                        other => other,
                    });
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    i += 1;
                }
                (Some(_), c) => {
                    word.push(c);
                    i += 1;
                }
                (None, '"' | '\'') => {
                    quote = Some(c);
                    i += 1;
                }
                (None, c) if is_space(c) => break,
                (None, c) => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        if let Some(q) = quote {
            return Err(QuoteError::Unterminated(q));
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> (Vec<Token>, Diagnostics) {
        lex_id(text, "")
    }

    fn lex_id(text: &str, id: &str) -> (Vec<Token>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let tokens = lex_str(Path::new("test.conf"), text, id, &mut diags);
        (tokens, diags)
    }

    fn lexer() -> Lexer {
        Lexer::new("", 1)
    }

    /// The fast path for plain lines gives the same tokens (words, raw text, spans) as the
    /// general path, and declines every line it cannot handle.
    #[test]
    fn plain_lines_lex_as_the_general_path_does() {
        let pos = Pos {
            file: FileId::of(Path::new("t.conf")),
            line: 7,
        };
        let plain = [
            "virtual_server 10.0.0.1 80 {",
            "  real_server 10.0.1.1 80 {",
            "\tweight 1  ",
            "}",
            "  }  } {",
            "a{b}c",
            "{",
            "   ",
            "",
            "x\u{b}y \u{c} z\r",
            "vrrp_instance VI_1 {  state MASTER  }",
            "{}{ }",
            "notify_master '/bin/echo  two  spaces'",
            "a  b",
            "a\u{b}",
            "\u{b}a b",
            "a b\u{b}{c  d}e\tf",
        ];
        for line in plain {
            let mut fast = lexer();
            assert!(fast.plain_line(line, pos.file, 7), "{line:?} is plain");
            let mut general = lexer();
            let (chars, _) = decomment(locate(line));
            if !chars.is_empty() {
                general.logical(chars, &pos, 0, 0);
            }
            assert_eq!(fast.tokens, general.tokens, "{line:?}");
        }
        for line in [
            "a \"b c\" {",
            "x # c",
            "x ! c",
            "$A=1",
            "@id x",
            "~SEQ(i,1,2) x",
            "include x",
            "} include x",
            "a\\#b",
            "caf\u{e9} 1",
        ] {
            assert!(
                !lexer().plain_line(line, pos.file, 7),
                "{line:?} is not plain"
            );
        }
    }

    /// The token stream as a compact string: words joined by `|`, lines by ` ; `.
    fn shape(tokens: &[Token]) -> String {
        tokens
            .iter()
            .map(|t| match t {
                Token::Open(_) => "{".to_string(),
                Token::Close(_) => "}".to_string(),
                Token::Line(l) => l
                    .words
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
            })
            .collect::<Vec<_>>()
            .join(" ; ")
    }

    #[test]
    fn braces_split_lines_anywhere() {
        let (t, d) = lex("track_script { chk_haproxy }\n} vrrp_instance X {\n");
        assert_eq!(
            shape(&t),
            "track_script ; { ; chk_haproxy ; } ; } ; vrrp_instance|X ; {"
        );
        assert!(d.0.is_empty());
    }

    #[test]
    fn text_after_a_brace_is_processed_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vips.inc"), "10.0.0.1\n").unwrap();
        let main = dir.path().join("main.conf");
        let mut diags = Diagnostics::default();
        let tokens = lex_str(
            &main,
            "virtual_ipaddress { include vips.inc\n}\n",
            "",
            &mut diags,
        );
        assert_eq!(shape(&tokens), "virtual_ipaddress ; { ; 10.0.0.1 ; }");
        assert!(diags.0.is_empty());
        assert_eq!(shape(&lex_id("x { @a y }\n", "a").0), "x ; { ; y ; }");
        assert_eq!(shape(&lex_id("x { @a y }\n", "b").0), "x ; {");
    }

    #[test]
    fn comments_and_quotes() {
        let (t, _) = lex("router_id \"a # b\" # comment\nx ! y\nnotify \"{ not a block }\"\n");
        assert_eq!(shape(&t), "router_id|a # b ; x ; notify|{ not a block }");
        let (t, _) = lex("a \\# b\n");
        assert_eq!(shape(&t), "a|#|b");
        // Single quotes are ordinary characters outside script commands.
        let (t, _) = lex("interface 'eth0'\n");
        assert_eq!(shape(&t), "interface|'eth0'");
        // A quote glued to text starts a new word, as in keepalived.
        let (t, _) = lex("ab\"c d\"\n");
        assert_eq!(shape(&t), "ab|c d");
    }

    #[test]
    fn columns_are_those_of_the_file() {
        let (t, _) = lex("\tpriority   100\n  x { y }\n");
        let Token::Line(l) = &t[0] else { panic!() };
        assert_eq!((l.words[0].span.line, l.words[0].span.col), (1, 2));
        assert_eq!((l.words[1].span.line, l.words[1].span.col), (1, 13));
        let Token::Open(open) = &t[2] else { panic!() };
        assert_eq!((open.line, open.col), (2, 5));
        let Token::Line(y) = &t[3] else { panic!() };
        assert_eq!(y.words[0].span.col, 7);
    }

    #[test]
    fn unmatched_quote_is_an_error() {
        let (t, d) = lex("router_id \"abc\n");
        assert_eq!(shape(&t), "router_id");
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].span.col, 11);
    }

    #[test]
    fn conditionals() {
        let text = "@high priority 170\n@low priority 85\n@^high weight 1\n";
        assert_eq!(shape(&lex_id(text, "high").0), "priority|170");
        assert_eq!(shape(&lex_id(text, "low").0), "priority|85 ; weight|1");
        assert_eq!(shape(&lex_id(text, "").0), "weight|1");
    }

    #[test]
    fn definitions() {
        let text = "$IF=eth0\ninterface $IF\nx ${IF}:1 $IFX $IF,y\n$UNSET stays\n";
        assert_eq!(
            shape(&lex(text).0),
            "interface|eth0 ; x|eth0:1|$IFX|eth0,y ; $UNSET|stays"
        );
        // The expanded word points at the `$`.
        let (t, _) = lex("$A=10.0.0.1\nvip   $A\n");
        let Token::Line(l) = &t[0] else { panic!() };
        assert_eq!(l.words[1].span.col, 7);
        // Definitions can use definitions, and can be redefined.
        let text = "$A=1\n$B=$A $A\nx $B\n$A=2\ny $B\n";
        assert_eq!(shape(&lex(text).0), "x|1|1 ; y|2|2");
        // `$NAME = value` (blank before '=') is not a definition in keepalived.
        assert_eq!(shape(&lex("$A = 1\n").0), "$A|=|1");
    }

    #[test]
    fn multiline_definitions() {
        let text = "$VIPS=10.0.0.1 \\\n  10.0.0.2 \\\n  10.0.0.3\nvirtual_ipaddress {\n$VIPS\n}\n";
        assert_eq!(
            shape(&lex(text).0),
            "virtual_ipaddress ; { ; 10.0.0.1 ; 10.0.0.2 ; 10.0.0.3 ; }"
        );
        // A multi-line definition cannot be used in the middle of a line.
        let text = "$M=a \\\nb\nx $M y\n";
        assert_eq!(shape(&lex(text).0), "x|$M|y");
    }

    #[test]
    fn self_reference_does_not_hang() {
        let (_, d) = lex("$A=x$A\ny $A\n");
        assert!(d.has_errors());
    }

    #[test]
    fn builtins() {
        let (t, _) = lex_id("a ${_INSTANCE} ${_HASH}\nr ${_RANDOM 5 5}\n", "node1");
        assert_eq!(shape(&t), "a|node1|# ; r|5");
    }

    #[test]
    fn seq_and_lst() {
        assert_eq!(
            shape(&lex("~SEQ(i, 1, 2, 5) vip 10.0.0.$i\n").0),
            "vip|10.0.0.1 ; vip|10.0.0.3 ; vip|10.0.0.5"
        );
        assert_eq!(shape(&lex("~SEQ(i, 3) n $i\n").0), "n|1 ; n|2 ; n|3");
        assert_eq!(shape(&lex("~SEQx(i, 9, 11) n $i\n").0), "n|9 ; n|a ; n|b");
        assert_eq!(
            shape(&lex("~SEQ(i, 1, 2) ~SEQ(j, 1, 2) p $i $j\n").0),
            "p|1|1 ; p|1|2 ; p|2|1 ; p|2|2"
        );
        assert_eq!(shape(&lex("~LST(v, a, b) w $v\n").0), "w|a ; w|b");
        assert_eq!(
            shape(&lex("~LST({n, ip}, {x, 1}, {y, 2}) $n $ip\n").0),
            "x|1 ; y|2"
        );
        let (_, d) = lex("~SEQ(i, 1, -1, 5) bad\n");
        assert!(d.has_errors());
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c}d"), vec!["abd", "acd"]);
        assert_eq!(
            expand_braces("{x,y{1,2}}.conf"),
            vec!["x.conf", "y1.conf", "y2.conf"]
        );
        assert_eq!(expand_braces("plain"), vec!["plain"]);
        assert_eq!(expand_braces("open{"), vec!["open{"]);
    }

    #[test]
    fn include_detection() {
        assert!(include_kind(&locate("include a.conf")).is_some());
        assert!(include_kind(&locate("includer a.conf")).is_some_and(|c| c.readable));
        assert!(include_kind(&locate("includes a.conf")).is_none());
        assert!(include_kind(&locate("include_check")).is_none());
    }

    #[test]
    fn script_word_splitting() {
        assert_eq!(
            split_quoted_escaped(r#"/bin/echo "a b" 'c d' e\ f g"h i"j"#).unwrap(),
            vec!["/bin/echo", "a b", "c d", "e f", "gh ij"]
        );
        assert_eq!(
            split_quoted_escaped(r"a\tb \x41 \101 \cA").unwrap(),
            vec!["a\tb", "A", "A", "\u{1}"]
        );
        assert_eq!(
            split_quoted_escaped("'unterminated"),
            Err(QuoteError::Unterminated('\''))
        );
        assert_eq!(split_quoted_escaped("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn decomment_rules() {
        let (t, cont) = decomment(locate("  a \"#x\" # c  "));
        assert_eq!(text_of(&t), "a \"#x\"");
        assert!(!cont);
        let (t, cont) = decomment(locate("value \\"));
        assert_eq!(text_of(&t), "value\\");
        assert!(cont);
    }

    /// Hostile files found by hand (issue 11): each is refused with a message, using neither
    /// deep recursion nor memory in proportion to the damage it asks for.
    #[test]
    fn thousands_of_braces_on_one_line_lex_iteratively() {
        // A non-ASCII character or a trailing ` \` sends the line through the general path,
        // which used to recurse once per brace with a copy of the rest (stack overflow at
        // 20,000 braces on the main thread).
        for tail in ["é", " \\"] {
            let text = format!("global_defs {{\n{}{tail}\n", "}".repeat(50_000));
            let (tokens, _) = lex(&text);
            let closes = tokens
                .iter()
                .filter(|t| matches!(t, Token::Close(_)))
                .count();
            assert_eq!(closes, 50_000);
        }
        // The residue after each brace is still a line of its own.
        let (tokens, _) = lex("$X=1\na { @^id b } e { f $X }\n");
        assert_eq!(shape(&tokens), "a ; { ; b ; } ; e ; { ; f|1 ; }");
    }

    #[test]
    fn a_self_referencing_multiline_definition_is_refused() {
        let (_, d) = lex("$X=a \\\n$X\n\n$X\n");
        assert!(d.has_errors());
        assert!(
            d.0.iter().any(|d| d.message.contains("nest more than")),
            "{d:?}"
        );
    }

    #[test]
    fn long_lines_and_substitutions_past_the_limit_are_refused() {
        let big = "a".repeat(MAX_LINE_BYTES + 1);
        let (tokens, d) = lex(&format!("router_id {big}\nvrrp_version 3\n"));
        assert!(
            d.0.iter()
                .any(|d| d.message.contains("longer than the limit")),
            "{d:?}"
        );
        assert_eq!(
            shape(&tokens),
            "vrrp_version|3",
            "the next line is still read"
        );
        // 1,000 references to a 60 KB value: refused at the first substitution that
        // would overflow, not after building gigabytes.
        let value = "v".repeat(60_000);
        let refs = "$X ".repeat(1000);
        let (_, d) = lex(&format!("$X={value}\nrouter_id {refs}\n"));
        assert!(
            d.0.iter()
                .any(|d| d.message.contains("parameter substitution")),
            "{d:?}"
        );
    }

    #[test]
    fn nested_replication_stops_at_the_token_budget() {
        let text = "~SEQ(a,1,100000) ~SEQ(b,1,100000) x $a $b\n";
        let mut stream = Stream::new(Path::new("test.conf"), text, "");
        stream.lexer.max_tokens = 200_000;
        let mut n = 0;
        while stream.next().is_some() {
            n += 1;
            assert!(n <= 200_000, "more tokens than the budget");
        }
        let diags = stream.finish();
        assert_eq!(n, 200_000);
        assert!(
            diags
                .iter()
                .any(|(_, d)| d.message.contains("more than 200000 lines")),
            "{diags:?}"
        );
    }
}
