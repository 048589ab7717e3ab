//! What every block parser shares: the token stream with its `{ … }` blocks, keepalived's
//! handling of unknown keywords, and the value helpers (`need`, `unsigned`, `flag`, `command`,
//! …) that report an invalid value as `file:line:col: error: … invalid KEYWORD 'VALUE': REASON
//! - INSTEAD`.

use super::Parser;
use crate::config::keywords::{self, Context};
use crate::config::lexer::{self, Line, Token, Word};
use crate::config::model::{Command, ScriptUser};
use crate::config::values::{self, MICROS_PER_SEC};
use crate::units::Version;
use std::fmt::Display;

/// The maximum a `u32` number of seconds may be in keepalived (`UINT_MAX / TIMER_HZ`).
const MAX_TIMER_SECS: u64 = u32::MAX as u64 / MICROS_PER_SEC;

impl Parser<'_> {
    // ----- token stream and blocks ---------------------------------------------------------

    pub(super) fn next(&mut self) -> Option<Token> {
        self.assign_keys();
        let token = self.tokens.next();
        self.consumed += usize::from(token.is_some());
        token
    }

    /// Records the stream position of the diagnostics found since the last token.
    pub(super) fn assign_keys(&mut self) {
        let missing = self.diags.0.len() - self.keys.len();
        self.keys
            .extend(std::iter::repeat_n(self.consumed, missing));
    }

    pub(super) fn peek_is_open(&mut self) -> bool {
        matches!(self.tokens.peek(), Some(Token::Open(_)))
    }

    /// Consumes the `{` that opens `owner`'s block. Without one, keepalived reports the missing
    /// `{` and reads the following lines as the block anyway, up to the next `}`.
    pub(super) fn open_block(&mut self, owner: &Word) {
        if self.peek_is_open() {
            self.next();
        } else {
            self.diags.error(
                &owner.span,
                format!(
                    "Missing '{{' at beginning of configuration block '{}'",
                    owner.text
                ),
            );
        }
    }

    /// The next line of the block of `owner`, or `None` at its `}` (consumed) or at the end of
    /// the input. A stray `{` inside the block is reported and its block skipped.
    pub(super) fn next_in_block(&mut self, owner: &Word) -> Option<Line> {
        loop {
            match self.next() {
                None => {
                    self.unclosed(owner);
                    return None;
                }
                Some(Token::Close(_)) => return None,
                Some(Token::Open(span)) => {
                    self.diags.error(&span, "Unexpected '{' - ignoring");
                    self.skip_rest_of_block(owner);
                }
                Some(Token::Line(line)) => return Some(line),
            }
        }
    }

    /// Skips the `{ … }` following a keyword line, if there is one.
    pub(super) fn skip_block_if_any(&mut self, owner: &Word) {
        if self.peek_is_open() {
            self.next();
            self.skip_rest_of_block(owner);
        }
    }

    /// Skips to the `}` that closes a block whose `{` was just consumed.
    pub(super) fn skip_rest_of_block(&mut self, owner: &Word) {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next() {
                None => {
                    self.unclosed(owner);
                    return;
                }
                Some(Token::Open(_)) => depth += 1,
                Some(Token::Close(_)) => depth -= 1,
                Some(Token::Line(_)) => {}
            }
        }
    }

    fn unclosed(&mut self, owner: &Word) {
        if !self.unclosed_reported {
            self.unclosed_reported = true;
            self.diags.error(
                &owner.span,
                format!(
                    "missing '}}': end of configuration inside block '{}'",
                    owner.text
                ),
            );
        }
    }

    // ----- generic keyword handling ----------------------------------------------------------

    /// A keyword rkeepalived does not parse: keepalived's own keywords load with a warning,
    /// anything else is `Unknown keyword`. Either way the keyword's block is skipped.
    pub(super) fn not_parsed(&mut self, line: &Line, context: Context) {
        let kw = line.keyword();
        if context.knows(&kw.text) {
            self.diags.warn(
                &kw.span,
                format!(
                    "'{}' is a keepalived keyword that rkeepalived does not implement yet; ignored",
                    kw.text
                ),
            );
        } else {
            // keepalived 2.2.7 skips only the line and then reads the keyword's block as if it
            // were part of the enclosing one (cascading errors); skipping the block is kinder
            // and loses nothing keepalived would have used.
            let hint = keywords::suggest(context, &kw.text)
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            self.diags
                .warn(&kw.span, format!("Unknown keyword '{}'{hint}", kw.text));
        }
        self.skip_block_if_any(kw);
    }

    /// Argument `index` of `line`, or an error that it is missing.
    pub(super) fn need<'l>(&mut self, who: &str, line: &'l Line, index: usize) -> Option<&'l Word> {
        let word = line.arg(index);
        if word.is_none() {
            let kw = line.keyword();
            self.diags.error(
                &kw.span,
                format!("{who}'{}' is missing a parameter", kw.text),
            );
        }
        word
    }

    /// Reports an invalid value: names keyword and value, the reason and what happens instead.
    pub(super) fn bad_value(
        &mut self,
        who: &str,
        line: &Line,
        word: &Word,
        reason: impl Display,
        instead: &str,
    ) {
        self.diags.error(
            &word.span,
            format!(
                "{who}invalid {} '{}': {reason} - {instead}",
                line.keyword().text,
                word.text
            ),
        );
    }

    pub(super) fn unsigned(
        &mut self,
        who: &str,
        line: &Line,
        index: usize,
        (min, max): (u64, u64),
        instead: &str,
    ) -> Option<u64> {
        let word = self.need(who, line, index)?;
        match values::unsigned(&word.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_value(who, line, word, e, instead);
                None
            }
        }
    }

    pub(super) fn integer(
        &mut self,
        who: &str,
        line: &Line,
        index: usize,
        (min, max): (i64, i64),
        instead: &str,
    ) -> Option<i64> {
        let word = self.need(who, line, index)?;
        match values::integer(&word.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_value(who, line, word, e, instead);
                None
            }
        }
    }

    /// A seconds value that keepalived reads as an integer (`read_unsigned`), e.g.
    /// `vrrp_garp_master_delay` or a `vrrp_script` `interval`: `2.5` is invalid there.
    pub(super) fn whole_seconds(&mut self, who: &str, line: &Line, instead: &str) -> Option<u64> {
        self.unsigned(who, line, 1, (0, MAX_TIMER_SECS), instead)
    }

    /// A VRRP version, `2` or `3` (keepalived reads an integer in that range).
    pub(super) fn version(&mut self, who: &str, line: &Line) -> Option<Version> {
        let v = self.integer(who, line, 1, (2, 3), "ignored")?;
        Some(if v == 3 { Version::V3 } else { Version::V2 })
    }

    /// A flag keyword: bare means on; `on/off/true/false/yes/no` may follow.
    pub(super) fn flag(&mut self, who: &str, line: &Line) -> Option<bool> {
        match line.arg(1) {
            None => Some(true),
            Some(word) => match values::boolean(&word.text) {
                Some(b) => Some(b),
                None => {
                    self.bad_value(
                        who,
                        line,
                        word,
                        "expected on/off, true/false or yes/no",
                        "ignored",
                    );
                    None
                }
            },
        }
    }

    /// The words after the keyword joined by single spaces (keepalived `set_value`).
    pub(super) fn rest_of_line(&mut self, who: &str, line: &Line) -> Option<String> {
        self.need(who, line, 1)?;
        Some(
            line.words[1..]
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// `KEYWORD "CMD args" [user [group]]`: the command split into argv with keepalived's
    /// script rules (`notify_script_init` / `set_script_params_array`): the line is split with
    /// quotes and escapes, and its first argument is split again into argv.
    pub(super) fn command(&mut self, who: &str, line: &Line, with_user: bool) -> Option<Command> {
        let cmd_word = self.need(who, line, 1)?.clone();
        let words = match lexer::split_quoted_escaped(&line.raw()) {
            Ok(words) => words,
            Err(e) => {
                self.bad_value(who, line, &cmd_word, e, "ignored");
                return None;
            }
        };
        let text = words.get(1).cloned().unwrap_or_default();
        let argv = match lexer::split_quoted_escaped(&text) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => {
                self.bad_value(who, line, &cmd_word, "empty command", "ignored");
                return None;
            }
            Err(e) => {
                self.bad_value(who, line, &cmd_word, e, "ignored");
                return None;
            }
        };
        let user = if with_user {
            words.get(2).map(|user| ScriptUser {
                user: user.clone(),
                group: words.get(3).cloned(),
            })
        } else {
            None
        };
        Some(Command {
            argv,
            user,
            span: cmd_word.span,
        })
    }

    /// Reports parameters after a value-block keyword (keepalived: "Block … has extra
    /// parameters").
    pub(super) fn no_block_params(&mut self, line: &Line) {
        if let Some(extra) = line.arg(1) {
            self.diags.error(
                &extra.span,
                format!(
                    "Block {} has extra parameters {} ... - ignored",
                    line.keyword().text,
                    extra.text
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parser::parse;

    #[test]
    fn a_block_without_its_brace_is_read_anyway() {
        let (c, msgs) = parse("global_defs\n router_id r1\n}\n");
        assert_eq!(
            msgs,
            ["t.conf:1:1: error: Missing '{' at beginning of configuration block 'global_defs'"]
        );
        assert_eq!(c.global.router_id.as_deref(), Some("r1"));
    }

    #[test]
    fn stray_braces_are_errors_and_their_block_is_skipped() {
        let (c, msgs) =
            parse("}\n{\n router_id nope\n}\nglobal_defs {\n {\n  x\n }\n router_id r2\n}\n");
        assert_eq!(
            msgs,
            [
                "t.conf:1:1: error: Extra '}' found",
                "t.conf:2:1: error: Unexpected '{' - ignoring",
                "t.conf:6:2: error: Unexpected '{' - ignoring",
            ]
        );
        assert_eq!(c.global.router_id.as_deref(), Some("r2"));
    }

    #[test]
    fn an_unclosed_block_is_reported_once() {
        let (_, msgs) = parse("vrrp_instance V {\n interface eth0\n track_script {\n");
        let unclosed: Vec<_> = msgs.iter().filter(|m| m.contains("missing '}'")).collect();
        assert_eq!(
            unclosed,
            ["t.conf:3:2: error: missing '}': end of configuration inside block 'track_script'"]
        );
    }

    /// keepalived reads `linkbeat_use_polling` at the top level only: inside `global_defs` it
    /// is unknown there too.
    #[test]
    fn unknown_keywords_get_a_suggestion_and_known_ones_a_gap_warning() {
        let (_, msgs) = parse(
            "global_defs {\n router_idd r1\n vrrp_iptables\n linkbeat_use_polling\n frobnicate {\n  a b\n }\n}\n\
             linkbeat_use_polling\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:2:2: warning: Unknown keyword 'router_idd' (did you mean 'router_id'?)",
                "t.conf:3:2: warning: 'vrrp_iptables' is a keepalived keyword that rkeepalived \
                 does not implement yet; ignored",
                "t.conf:4:2: warning: Unknown keyword 'linkbeat_use_polling'",
                "t.conf:5:2: warning: Unknown keyword 'frobnicate'",
                "t.conf:9:1: warning: 'linkbeat_use_polling' is a keepalived keyword that \
                 rkeepalived does not implement yet; ignored",
            ]
        );
    }

    #[test]
    fn flags_take_an_optional_boolean() {
        let (c, msgs) = parse("global_defs {\n vrrp_strict\n}\n");
        assert!(msgs.is_empty() && c.global.vrrp_strict, "{msgs:?}");
        let (c, _) = parse("global_defs {\n vrrp_strict\n vrrp_strict no\n}\n");
        assert!(!c.global.vrrp_strict);
        let (c, msgs) = parse("global_defs {\n vrrp_strict maybe\n}\n");
        assert_eq!(
            msgs,
            [
                "t.conf:2:14: error: invalid vrrp_strict 'maybe': expected on/off, true/false or \
              yes/no - ignored"
            ]
        );
        assert!(!c.global.vrrp_strict);
    }

    #[test]
    fn a_missing_parameter_names_the_keyword() {
        let (c, msgs) = parse("global_defs {\n router_id\n}\n");
        assert_eq!(
            msgs,
            ["t.conf:2:2: error: 'router_id' is missing a parameter"]
        );
        assert_eq!(c.global.router_id, None);
    }

    #[test]
    fn a_command_is_split_with_quotes_and_must_not_be_empty() {
        let (c, msgs) = parse(
            "global_defs {\n enable_script_security\n}\nvrrp_script s {\n script \"/bin/check 'a b' c\"\n}\n\
             vrrp_script e {\n script \"\"\n}\n",
        );
        assert_eq!(c.vrrp_scripts["s"].script.argv, ["/bin/check", "a b", "c"]);
        assert!(!c.vrrp_scripts.contains_key("e"));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.conf:8:9: error: (e) invalid script '': empty command")),
            "{msgs:?}"
        );
    }
}
