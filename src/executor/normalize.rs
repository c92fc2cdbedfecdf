//! The normal form of a GraphQL document, the response cache's key: one linear pass over
//! the text, no parse. Documents that differ only in whitespace, commas and comments get
//! the same normal form; documents with different tokens never do.
//!
//! Knows nothing of caches or HTTP.

/// Why a document has no normal form. Each is a document async-graphql's parser refuses,
/// so it is never worth caching; the caller executes it as it is, and it fails there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unnormalizable {
    #[error("a string literal is not closed on its line (or a block string by the end)")]
    UnterminatedString,
    /// The GraphQL spec allows ignored tokens inside a type reference (`[ ID ! ]`), but
    /// async-graphql's grammar reads a type as one atomic token and refuses them. Without
    /// this refusal `[ ID ]` would share `[ID]`'s entry and be answered from the cache,
    /// where executing it gives a syntax error.
    #[error("ignored tokens inside a variable's type reference")]
    IgnoredInsideType,
    /// async-graphql's grammar wants only whitespace between `on` and a type condition's
    /// name, not a comment; the same reasoning as `IgnoredInsideType`.
    #[error("a comment between `on` and a type condition's name")]
    CommentAfterOn,
}

/// Appends the normal form of `document` to `out`: its tokens in order, string and block
/// string literals byte for byte, with one space between two tokens only where neither is
/// a punctuator (two names, numbers or strings, which would otherwise run together) and
/// the source had ignored tokens between them. Ignored tokens are spaces, tabs, line
/// ends, commas, comments and byte order marks.
///
/// Why this is sound: every byte of the document outside ignored runs is copied in order,
/// and a run is only ever dropped next to a punctuator, which no token can absorb or
/// extend (`...` next to a number's `.` included: a fraction needs a digit after its
/// dot). So two documents with the same normal form lex to the same tokens, and
/// async-graphql parses them alike, apart from the two places its grammar departs from
/// the spec, which `Unnormalizable` refuses. A byte that starts no token is copied as a
/// token of its own, so a document the parser refuses never takes the normal form of one
/// it accepts.
pub fn normalize(document: &str, out: &mut Vec<u8>) -> Result<(), Unnormalizable> {
    let bytes = document.as_bytes();
    out.reserve(bytes.len());
    let mut at = 0;
    let mut previous: Option<Token> = None;
    let mut variable = Variable::None;
    let mut type_reference = TypeReference::Outside;
    loop {
        let run_start = at;
        let mut comment = false;
        while let Some(&byte) = bytes.get(at) {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => at += 1,
                b'#' => {
                    comment = true;
                    // A comment runs to the end of the line; GraphQL ends lines at `\n` or `\r`.
                    while bytes
                        .get(at)
                        .is_some_and(|&byte| !matches!(byte, b'\n' | b'\r'))
                    {
                        at += 1;
                    }
                }
                0xEF if bytes[at..].starts_with(BYTE_ORDER_MARK) => at += BYTE_ORDER_MARK.len(),
                _ => break,
            }
        }
        if at == bytes.len() {
            return Ok(());
        }
        let ignored = at > run_start;
        let (token, end) = lex(bytes, at)?;
        if comment && previous == Some(Token::On) {
            return Err(Unnormalizable::CommentAfterOn);
        }
        type_reference = type_reference.next(token, ignored)?;
        variable = match (variable, token) {
            (_, Token::Punctuator(b'$')) => Variable::Dollar,
            (Variable::Dollar, Token::Name | Token::On) => Variable::Name,
            (Variable::Name, Token::Punctuator(b':')) => {
                // `$name:` is a variable definition: its type reference comes next.
                type_reference = TypeReference::Expected;
                Variable::None
            }
            _ => Variable::None,
        };
        if ignored
            && previous.is_some_and(|previous| !previous.is_punctuator())
            && !token.is_punctuator()
        {
            out.push(b' ');
        }
        out.extend_from_slice(&bytes[at..end]);
        previous = Some(token);
        at = end;
    }
}

/// A byte order mark, which GraphQL ignores like whitespace.
const BYTE_ORDER_MARK: &[u8] = "\u{feff}".as_bytes();

/// What the normal form needs to know of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// `! $ & ( ) ... : = @ [ ] { | }`, by its first byte.
    Punctuator(u8),
    /// The name `on`, after which a type condition's name may follow.
    On,
    /// Any other name.
    Name,
    /// A number, a string, or a byte no token starts with.
    Other,
}

impl Token {
    fn is_punctuator(self) -> bool {
        matches!(self, Token::Punctuator(_))
    }
}

/// How far the tokens have gone through `$name`, which a `:` makes a variable definition.
#[derive(Clone, Copy)]
enum Variable {
    None,
    Dollar,
    Name,
}

/// Where the tokens are relative to a variable's type reference (`[ID!]!`), inside which
/// async-graphql's grammar allows no ignored token.
#[derive(Clone, Copy)]
enum TypeReference {
    Outside,
    /// After `$name:`; ignored tokens may still come before the type.
    Expected,
    /// Inside a type, `depth` list brackets deep.
    Inside {
        depth: usize,
    },
}

impl TypeReference {
    /// The state after `token`, which followed ignored tokens when `ignored`.
    fn next(self, token: Token, ignored: bool) -> Result<TypeReference, Unnormalizable> {
        Ok(match self {
            TypeReference::Outside => TypeReference::Outside,
            TypeReference::Expected => match token {
                Token::Punctuator(b'[') => TypeReference::Inside { depth: 1 },
                Token::Name | Token::On => TypeReference::Inside { depth: 0 },
                _ => TypeReference::Outside,
            },
            TypeReference::Inside { depth } if ignored => {
                // At depth 0 the type may have ended (`$a: ID = 1`), unless a `!` follows.
                if depth > 0 || token == Token::Punctuator(b'!') {
                    return Err(Unnormalizable::IgnoredInsideType);
                }
                TypeReference::Outside
            }
            TypeReference::Inside { depth } => match token {
                Token::Punctuator(b'[') => TypeReference::Inside { depth: depth + 1 },
                Token::Punctuator(b']') if depth > 0 => TypeReference::Inside { depth: depth - 1 },
                Token::Punctuator(b'!') if depth > 0 => TypeReference::Inside { depth },
                Token::Name | Token::On => TypeReference::Inside { depth },
                // A `!` at depth 0 ends the type; anything else ends it or is a syntax error.
                _ => TypeReference::Outside,
            },
        })
    }
}

/// The token starting at `start` (which is not an ignored byte) and where it ends.
fn lex(bytes: &[u8], start: usize) -> Result<(Token, usize), Unnormalizable> {
    let is_name_byte = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'_';
    let digits_from = |at: usize| {
        at + bytes[at.min(bytes.len())..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };
    Ok(match bytes[start] {
        b'"' => (Token::Other, string_end(bytes, start)?),
        b'.' if bytes[start..].starts_with(b"...") => (Token::Punctuator(b'.'), start + 3),
        byte @ (b'!' | b'$' | b'&' | b'(' | b')' | b':' | b'=' | b'@' | b'[' | b']' | b'{'
        | b'|' | b'}') => (Token::Punctuator(byte), start + 1),
        byte if byte.is_ascii_alphabetic() || byte == b'_' => {
            let end = start
                + bytes[start..]
                    .iter()
                    .take_while(|b| is_name_byte(b))
                    .count();
            let token = if &bytes[start..end] == b"on" {
                Token::On
            } else {
                Token::Name
            };
            (token, end)
        }
        b'-' | b'0'..=b'9' => {
            // Sign, integer part, fraction, exponent: a number as GraphQL lexes it. Only
            // its extent matters here, and only next to `...`.
            let integer = start + usize::from(bytes[start] == b'-');
            let mut end = digits_from(integer);
            if end == integer {
                return Ok((Token::Other, start + 1));
            }
            if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                end = digits_from(end + 1);
            }
            if matches!(bytes.get(end), Some(b'e' | b'E')) {
                let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
                if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                    end = digits_from(end + 1 + sign);
                }
            }
            (Token::Other, end)
        }
        _ => (Token::Other, start + 1),
    })
}

/// Where the string or block string literal starting at `start` ends.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, Unnormalizable> {
    const BLOCK: &[u8] = b"\"\"\"";
    if bytes[start..].starts_with(BLOCK) {
        let mut at = start + BLOCK.len();
        loop {
            let rest = &bytes[at.min(bytes.len())..];
            if rest.is_empty() {
                return Err(Unnormalizable::UnterminatedString);
            } else if rest.starts_with(b"\\\"\"\"") {
                // A block string's only escape, `\"""`; any other backslash is literal.
                at += 4;
            } else if rest.starts_with(BLOCK) {
                return Ok(at + BLOCK.len());
            } else {
                at += 1;
            }
        }
    }
    let mut at = start + 1;
    loop {
        match bytes.get(at) {
            None | Some(b'\n' | b'\r') => return Err(Unnormalizable::UnterminatedString),
            Some(b'"') => return Ok(at + 1),
            Some(b'\\') => match bytes.get(at + 1) {
                None | Some(b'\n' | b'\r') => return Err(Unnormalizable::UnterminatedString),
                Some(_) => at += 2,
            },
            Some(_) => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(document: &str) -> Result<String, Unnormalizable> {
        let mut out = Vec::new();
        normalize(document, &mut out)?;
        Ok(String::from_utf8(out).expect("the normal form of text is text"))
    }

    fn same(a: &str, b: &str) {
        assert_eq!(
            normal(a),
            normal(b),
            "{a:?} and {b:?} should share a normal form"
        );
        assert!(normal(a).is_ok(), "{a:?}");
    }

    fn different(a: &str, b: &str) {
        assert_ne!(
            normal(a),
            normal(b),
            "{a:?} and {b:?} must not share a normal form"
        );
    }

    #[test]
    fn the_normal_form_keeps_a_space_only_between_names_numbers_and_strings() {
        assert_eq!(
            normal(
                "# a comment\r\n query Q( $id : ID!, $n: Int = 3 ) {\n  node(id: $id) {\n    ... on Country { name, code }\n    ...F @skip(if: false)\n  }\n}\n\nfragment F on Node { id }\n"
            )
            .as_deref(),
            Ok("query Q($id:ID!$n:Int=3){node(id:$id){...on Country{name code}...F@skip(if:false)}}fragment F on Node{id}")
        );
        assert_eq!(normal("  \t,,\r\n# only\n").as_deref(), Ok(""));
        assert_eq!(
            normal("{a(x: [1, -2, 3.5e-1, \"s\" \"t\"])}").as_deref(),
            Ok("{a(x:[1 -2 3.5e-1 \"s\" \"t\"])}")
        );
    }

    #[test]
    fn whitespace_commas_comments_and_byte_order_marks_are_insignificant() {
        let tight = "query Q($v:[Int!]!){a(x:$v){...on T{b c}...F}}";
        for spaced in [
            "query Q($v: [Int!]!) { a(x: $v) { ... on T { b c } ... F } }",
            "query Q(\n\t$v: [Int!]!,\n) {\r\n a(x: $v,) { ...on T { b, c } ...F }, }",
            "\u{feff}query Q($v:[Int!]!){a(x:$v){...on T{b # c\nc}...F}}# end",
            "query Q ( $ v : [Int!]! ) { a ( x : $ v ) { ... on T { b\rc } ... F } }",
            "query\u{feff}Q($v:[Int!]!){a(x:$v){...on\u{feff}T{b,,,c}...F}}",
        ] {
            same(tight, spaced);
        }
        same("{ a b }", "{a,b}");
        same("{ a(x: -1) }", "{a(x:-1)}");
        same("{ a(x: 1) ...F }", "{a(x:1)...F}");
    }

    #[test]
    fn significant_differences_keep_documents_apart() {
        different("{ a b }", "{ ab }");
        different("{ a(x: 1 2) }", "{ a(x: 12) }");
        different("{ a(x: - 1) }", "{ a(x: -1) }");
        different("{ a(x: 1 .5) }", "{ a(x: 1.5) }");
        different("{ a(x: \"\" \"b\") }", "{ a(x: \"\"\"b\") }");
        same("{ ... F }", "{ ...F } ");
        different("{ . .. }", "{ ... }");
        different("{ a }", "{ b }");
        different("{ a(x: \"s\") }", "{ a(x: \"S\") }");
        different("{ a(x: 1) }", "{ a(x: 1.0) }");
        different("query A { a }", "query B { a }");
    }

    #[test]
    fn strings_and_block_strings_are_kept_byte_for_byte() {
        let strings = [
            r#""a  b""#,
            r#""a b""#,
            r#""a,b""#,
            r#""a #b""#,
            r#""a \" # , b""#,
            r#""\\""#,
            "\"\"\"a\n  b, # c\"\"\"",
            "\"\"\"a\n b, # c\"\"\"",
            "\"\"\"a \\\"\"\" # \"\" , b\"\"\"",
            "\"\"\"a \\\" # b\"\"\"",
        ];
        for (index, string) in strings.iter().enumerate() {
            let document = format!("{{ a(x: {string}) , b }}");
            assert_eq!(
                normal(&document),
                Ok(format!("{{a(x:{string})b}}")),
                "{document:?}"
            );
            for other in &strings[index + 1..] {
                different(&document, &format!("{{ a(x: {other}) , b }}"));
            }
        }
        // A `#` or an escaped quote inside a string starts no comment and ends nothing.
        assert_eq!(
            normal("{ a(x: \"# \\\" ,\") b }").as_deref(),
            Ok("{a(x:\"# \\\" ,\")b}")
        );
    }

    #[test]
    fn documents_the_parser_refuses_have_no_normal_form() {
        for (document, why) in [
            ("{ a(x: \"open) }", Unnormalizable::UnterminatedString),
            (
                "{ a(x: \"line\nend\") }",
                Unnormalizable::UnterminatedString,
            ),
            ("{ a(x: \"\\", Unnormalizable::UnterminatedString),
            (
                "{ a(x: \"\"\"open \\\"\"\") }",
                Unnormalizable::UnterminatedString,
            ),
            (
                "query($a: [ Int ]) { a }",
                Unnormalizable::IgnoredInsideType,
            ),
            (
                "query($a: [Int] !) { a }",
                Unnormalizable::IgnoredInsideType,
            ),
            ("query($a: Int !) { a }", Unnormalizable::IgnoredInsideType),
            (
                "query($a: [[Int],]) { a }",
                Unnormalizable::IgnoredInsideType,
            ),
            ("fragment F on #\nT { a }", Unnormalizable::CommentAfterOn),
        ] {
            assert_eq!(normal(document), Err(why), "{document:?}");
            assert!(
                async_graphql::parser::parse_query(document).is_err(),
                "async-graphql now parses {document:?}: this refusal can go"
            );
        }
        // Here the parser reads a spread of a fragment named `on`, then a field `T`: not
        // the inline fragment the same tokens make without the comment.
        let spread_of_on = "{ ... on # c\n T { a } }";
        assert_eq!(normal(spread_of_on), Err(Unnormalizable::CommentAfterOn));
        let parsed = async_graphql::parser::parse_query(spread_of_on).expect("parses");
        let (_, operation) = parsed.operations.iter().next().expect("one operation");
        assert!(matches!(
            &operation.node.selection_set.node.items[0].node,
            async_graphql::parser::types::Selection::FragmentSpread(spread)
                if spread.node.fragment_name.node == "on"
        ));
        // The forms it accepts, which are the normal forms.
        for document in [
            "query($a:[Int]){a}",
            "query($a: [Int!]! = [1], $b: Int @deprecated) { a }",
            "{ ... on\tT { a } }",
        ] {
            assert!(normal(document).is_ok(), "{document:?}");
            assert!(
                async_graphql::parser::parse_query(document).is_ok(),
                "{document:?}"
            );
        }
    }
}
