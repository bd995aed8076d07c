//! RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths, parsed.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! PATH      = attrPath / valuePath [subAttr]
//! ```
//!
//! `and` binds tighter than `or`; `not` applies to a parenthesized
//! filter; operators and `and`/`or`/`not` are matched without regard to
//! case, as attribute names are. (The `scim-filter` crate parses the same
//! grammar but keeps an attribute's schema URN private, which the
//! enterprise extension's attributes need, and has no PATCH paths.)

use std::fmt;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// It does not hold.
    Not(Box<Filter>),
    /// The attribute has a value (`pr`).
    Present(AttrPath),
    /// The attribute compares so with the value.
    Compare(AttrPath, Op, Literal),
    /// Some value of a multi-valued attribute matches the inner filter,
    /// whose attribute paths name its sub-attributes.
    ValuePath(AttrPath, Box<Filter>),
}

/// An attribute path: `userName`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttrPath {
    /// The schema URN it is prefixed with, if any.
    pub(crate) urn: Option<String>,
    /// The attribute.
    pub(crate) name: String,
    /// The sub-attribute, if any.
    pub(crate) sub: Option<String>,
}

impl AttrPath {
    /// Whether it names `name` (and `sub`), without regard to case.
    pub(crate) fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

/// A comparison's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Number(f64),
    Bool(bool),
    Null,
}

/// A PATCH operation's target: an attribute, or the values of a
/// multi-valued one a filter selects, and then perhaps one of their
/// sub-attributes (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchPath {
    pub(crate) attr: AttrPath,
    pub(crate) filter: Option<Filter>,
    /// The sub-attribute after the brackets.
    pub(crate) sub: Option<String>,
}

/// Why a filter or path did not parse, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a filter.
pub(crate) fn parse(text: &str) -> Result<Filter, ParseError> {
    let mut parser = Parser::new(text)?;
    let filter = parser.or()?;
    parser.end()?;
    Ok(filter)
}

/// Parses a PATCH path.
pub(crate) fn parse_path(text: &str) -> Result<PatchPath, ParseError> {
    let mut parser = Parser::new(text)?;
    let attr = parser.attr_path()?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if parser.eat(&Token::Open('[')) {
        path.filter = Some(parser.or()?);
        parser.expect(&Token::Close(']'))?;
        if let Some(Token::Word(word)) = parser.peek().cloned() {
            let Some(sub) = word.strip_prefix('.') else {
                return Err(ParseError(format!(
                    "expected .subAttribute after ], found {word}"
                )));
            };
            parser.next();
            path.sub = Some(sub.to_owned());
        }
    }
    parser.end()?;
    Ok(path)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open(char),
    Close(char),
    Word(String),
    Str(String),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// The most tokens a filter may have (a filter is at most 2,000 characters
/// by the spec; this bounds the parser's recursion too).
const MAX_TOKENS: usize = 1000;
/// The deepest nesting of parentheses and brackets.
const MAX_DEPTH: usize = 32;

impl Parser {
    fn new(text: &str) -> Result<Self, ParseError> {
        let mut tokens = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some(&(at, c)) = chars.peek() {
            match c {
                ' ' | '\t' | '\n' | '\r' => {
                    chars.next();
                }
                '(' | '[' => {
                    tokens.push(Token::Open(c));
                    chars.next();
                }
                ')' | ']' => {
                    tokens.push(Token::Close(c));
                    chars.next();
                }
                '"' => {
                    // A JSON string: read to its closing quote, escapes
                    // included, and decode it as JSON does.
                    let start = at;
                    chars.next();
                    let mut escaped = false;
                    let mut end = None;
                    for (i, c) in chars.by_ref() {
                        if escaped {
                            escaped = false;
                        } else if c == '\\' {
                            escaped = true;
                        } else if c == '"' {
                            end = Some(i);
                            break;
                        }
                    }
                    let end = end.ok_or_else(|| {
                        ParseError(format!("the string at {start} has no closing quote"))
                    })?;
                    let value: String = serde_json::from_str(&text[start..=end])
                        .map_err(|e| ParseError(format!("the string at {start}: {e}")))?;
                    tokens.push(Token::Str(value));
                }
                _ => {
                    let mut word = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    tokens.push(Token::Word(word));
                }
            }
            if tokens.len() > MAX_TOKENS {
                return Err(ParseError(format!("more than {MAX_TOKENS} tokens")));
            }
        }
        Ok(Self { tokens, at: 0 })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token) -> Result<(), ParseError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(ParseError(format!(
                "expected {}, found {}",
                describe(Some(token)),
                describe(self.peek())
            )))
        }
    }

    fn end(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err(ParseError(format!(
                "unexpected {} after the end",
                describe(Some(token))
            ))),
        }
    }

    fn depth(&self) -> usize {
        self.tokens[..self.at.min(self.tokens.len())]
            .iter()
            .map(|t| match t {
                Token::Open(_) => 1i64,
                Token::Close(_) => -1,
                _ => 0,
            })
            .sum::<i64>()
            .max(0) as usize
    }

    fn or(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.unary()?;
        while self.eat_word("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self) -> Result<Filter, ParseError> {
        self.expect(&Token::Open('('))?;
        if self.depth() > MAX_DEPTH {
            return Err(ParseError(format!("nested deeper than {MAX_DEPTH}")));
        }
        let inner = self.or()?;
        self.expect(&Token::Close(')'))?;
        Ok(inner)
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("not"))
            && self.tokens.get(self.at + 1) == Some(&Token::Open('('))
        {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some(&Token::Open('(')) {
            return self.group();
        }
        let attr = self.attr_path()?;
        if self.eat(&Token::Open('[')) {
            if self.depth() > MAX_DEPTH {
                return Err(ParseError(format!("nested deeper than {MAX_DEPTH}")));
            }
            let inner = self.or()?;
            self.expect(&Token::Close(']'))?;
            return Ok(Filter::ValuePath(attr, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(attr));
            }
            Some(Token::Word(word)) => Op::parse(&word).ok_or_else(|| {
                ParseError(format!(
                    "{word} is not an operator (eq ne co sw ew gt ge lt le pr)"
                ))
            })?,
            other => {
                return Err(ParseError(format!(
                    "expected an operator after {attr}, found {}",
                    describe(other.as_ref())
                )));
            }
        };
        let value = match self.next() {
            Some(Token::Str(text)) => Literal::Str(text),
            Some(Token::Word(word)) => match word.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                number => Literal::Number(number.parse().map_err(|_| {
                    ParseError(format!(
                        "{number} is not a value (a string, number, true, false or null)"
                    ))
                })?),
            },
            other => {
                return Err(ParseError(format!(
                    "expected a value after {attr}, found {}",
                    describe(other.as_ref())
                )));
            }
        };
        Ok(Filter::Compare(attr, op, value))
    }

    fn attr_path(&mut self) -> Result<AttrPath, ParseError> {
        let word = match self.next() {
            Some(Token::Word(word)) => word,
            other => {
                return Err(ParseError(format!(
                    "expected an attribute, found {}",
                    describe(other.as_ref())
                )));
            }
        };
        // A URN prefix ends at its last colon; the attribute follows.
        let (urn, rest) = match word.rfind(':') {
            Some(colon) if word[..colon].to_ascii_lowercase().starts_with("urn:") => {
                (Some(word[..colon].to_owned()), &word[colon + 1..])
            }
            _ => (None, word.as_str()),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let valid = |part: &str| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(ParseError(format!("{word} is not an attribute path")));
        }
        Ok(AttrPath {
            urn,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end".into(),
        Some(Token::Open(c) | Token::Close(c)) => format!("`{c}`"),
        Some(Token::Word(w)) => format!("`{w}`"),
        Some(Token::Str(s)) => format!("the string {s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn eq(name: &str, value: &str) -> Filter {
        Filter::Compare(attr(name, None), Op::Eq, Literal::Str(value.into()))
    }

    #[test]
    fn the_rfcs_examples_parse() {
        assert_eq!(
            parse(r#"userName Eq "john""#).unwrap(),
            eq("userName", "john")
        );
        assert_eq!(
            parse(r#"name.familyName co "O'Malley""#).unwrap(),
            Filter::Compare(
                attr("name", Some("familyName")),
                Op::Co,
                Literal::Str("O'Malley".into())
            )
        );
        assert_eq!(
            parse("title pr").unwrap(),
            Filter::Present(attr("title", None))
        );
        assert_eq!(
            parse(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#).unwrap(),
            Filter::Compare(
                attr("meta", Some("lastModified")),
                Op::Gt,
                Literal::Str("2011-05-13T04:42:34Z".into())
            )
        );
        let parsed = parse(
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        )
        .unwrap();
        let Filter::And(left, right) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(*left, eq("userType", "Employee"));
        assert!(matches!(*right, Filter::ValuePath(ref a, _) if a.is("emails", None)));
        let urn = parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
        )
        .unwrap();
        let Filter::Compare(path, Op::Eq, Literal::Str(seven)) = urn else {
            panic!("{urn:?}")
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (path.name.as_str(), seven.as_str()),
            ("employeeNumber", "7")
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_takes_a_group() {
        let parsed = parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert_eq!(
            parsed,
            Filter::Or(
                Box::new(eq("a", "1")),
                Box::new(Filter::And(Box::new(eq("b", "2")), Box::new(eq("c", "3"))))
            )
        );
        let parsed = parse(r#"not (a eq "1") AND (b eq "2" or c eq "3")"#).unwrap();
        assert_eq!(
            parsed,
            Filter::And(
                Box::new(Filter::Not(Box::new(eq("a", "1")))),
                Box::new(Filter::Or(Box::new(eq("b", "2")), Box::new(eq("c", "3"))))
            )
        );
        assert_eq!(
            parse(r#"active eq true and x eq 4.5 and y eq null"#).unwrap(),
            Filter::And(
                Box::new(Filter::And(
                    Box::new(Filter::Compare(
                        attr("active", None),
                        Op::Eq,
                        Literal::Bool(true)
                    )),
                    Box::new(Filter::Compare(
                        attr("x", None),
                        Op::Eq,
                        Literal::Number(4.5)
                    ))
                )),
                Box::new(Filter::Compare(attr("y", None), Op::Eq, Literal::Null))
            )
        );
    }

    #[test]
    fn escapes_in_strings_are_decoded() {
        assert_eq!(
            parse(r#"displayName eq "a \"b\" \\ c""#).unwrap(),
            eq("displayName", r#"a "b" \ c"#)
        );
    }

    #[test]
    fn malformed_filters_are_errors_that_say_where() {
        for (text, says) in [
            ("userName", "expected an operator"),
            (r#"userName xx "a""#, "not an operator"),
            (r#"userName eq"#, "expected a value"),
            (r#"userName eq "a"#, "no closing quote"),
            (r#"(userName eq "a""#, "expected `)`"),
            (r#"userName eq "a" )"#, "after the end"),
            (r#"userName eq bare"#, "not a value"),
            (r#"1abc eq "a""#, "not an attribute path"),
            ("", "expected an attribute"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.0.contains(says), "{text}: {err}");
        }
        let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().0.contains("deeper"));
    }

    #[test]
    fn patch_paths_parse_with_their_filters_and_sub_attributes() {
        assert_eq!(
            parse_path("name.givenName").unwrap(),
            PatchPath {
                attr: attr("name", Some("givenName")),
                filter: None,
                sub: None
            }
        );
        let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert!(path.attr.is("emails", None));
        assert_eq!(path.filter, Some(eq("type", "work")));
        assert_eq!(path.sub.as_deref(), Some("value"));
        let path = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(path.filter, Some(eq("value", "2819c223")));
        assert_eq!(path.sub, None);
        assert!(parse_path(r#"emails[type eq "work"] value"#).is_err());
    }
}
