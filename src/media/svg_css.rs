//! The CSS half of the SVG sanitiser: `<style>` sheets, `style=""` declarations and the values of
//! presentation attributes (`fill="url(#g)"`), read with Servo's `cssparser` tokenizer the way a
//! browser reads them (escapes, comments, nested blocks, strings).
//!
//! Kept: style rules whose selector is made of plain selector tokens, and in them (and in
//! `style=""`) declarations of the properties in [`svg_allow::CSS_PROPERTIES`] whose value has
//! only plain tokens, functions from [`svg_allow::CSS_FUNCTIONS`] and `url(#id)`. Dropped: every
//! at-rule (`@import`, `@font-face`, `@media`, `@keyframes`, …), custom properties, any `url()`
//! that leaves the document, and any selector or value with a backslash escape (editors write
//! none; escapes are how `u\72l(` hides a `url(`). Kept pieces are checked token by token and
//! written back as the input spelled them, between separators this module writes.

use cssparser::{
    AtRuleParser, CowRcStr, DeclarationParser, ParseError, ParseErrorKind, Parser, ParserState, QualifiedRuleParser,
    RuleBodyItemParser, RuleBodyParser, StyleSheetParser, Token,
};

use super::svg_allow;

/// The declarations of a `style` attribute that are kept, as `name:value;name:value`.
pub(super) fn sanitize_declarations(style: &str) -> String {
    let mut parser = Parser::new(style);
    declarations_of(&mut parser).join(";")
}

/// The rules of a `<style>` sheet that are kept, one per line.
pub(super) fn sanitize_stylesheet(css: &str) -> String {
    let mut parser = Parser::new(css);
    let mut rules = SheetRules;
    StyleSheetParser::new(&mut parser, &mut rules).filter_map(Result::ok).collect::<Vec<_>>().join("\n")
}

/// Whether `value` is safe as the value of the CSS property (or presentation attribute) `name`.
pub(super) fn is_safe_value(name: &str, value: &str) -> bool {
    if !svg_allow::CSS_PROPERTIES.contains(&name) || value.contains('\\') {
        return false;
    }
    let mut parser = Parser::new(value);
    check_tokens(&mut parser, Context::Value).is_ok()
}

/// Whether the `;`-separated `values` hold no reference out of the document and no script: for
/// SMIL `values`/`from`/`to`/`by`, which take the values of whatever attribute is animated.
pub(super) fn is_inert_values(values: &str) -> bool {
    !values.contains('\\')
        && values.split(';').all(|value| check_tokens(&mut Parser::new(value), Context::Value).is_ok())
}

fn declarations_of(parser: &mut Parser<'_>) -> Vec<String> {
    let mut declarations = Declarations;
    RuleBodyParser::new(parser, &mut declarations).filter_map(Result::ok).collect()
}

/// What a token sequence is: a selector (no `url()` or value functions make sense there) or a
/// declaration value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Selector,
    Value,
}

/// A piece of CSS that is not kept.
type Refused = ParseError<()>;

fn refused() -> Refused {
    ParseError { kind: ParseErrorKind::Custom(()) }
}

/// Walks every token to the end of `parser` (descending into blocks) and refuses anything but
/// plain tokens: no at-keywords, no curly blocks, no bad strings or URLs, no stray closing
/// brackets, no functions outside the allow-list, no `url()` but `url(#id)`.
fn check_tokens<'i>(parser: &mut Parser<'i>, context: Context) -> Result<(), Refused> {
    loop {
        let token = match parser.next_including_whitespace_and_comments() {
            Ok(token) => token.clone(),
            Err(_) => return Ok(()),
        };
        match token {
            // A string in a selector is an attribute value: plain words, nothing that reads as CSS.
            Token::QuotedString(text)
                if context == Context::Selector && text.contains(['(', ')', '{', '}', ';', '@', '\'', '"']) =>
            {
                return Err(refused());
            }
            Token::Ident(_)
            | Token::Hash(_)
            | Token::IDHash(_)
            | Token::QuotedString(_)
            | Token::Number { .. }
            | Token::Percentage { .. }
            | Token::Dimension { .. }
            | Token::WhiteSpace(_)
            | Token::Comment(_)
            | Token::Colon
            | Token::Comma
            | Token::IncludeMatch
            | Token::DashMatch
            | Token::PrefixMatch
            | Token::SuffixMatch
            | Token::SubstringMatch => {}
            Token::Delim(c) if c != '\\' && c != '@' => {}
            Token::UnquotedUrl(url) if context == Context::Value && url.starts_with('#') => {}
            Token::Function(name) if context == Context::Value && name.eq_ignore_ascii_case("url") => {
                parser.parse_nested_block(local_url)?;
            }
            Token::Function(name) if is_allowed_function(&name, context) => {
                parser.parse_nested_block(|nested| check_tokens(nested, context))?;
            }
            Token::ParenthesisBlock | Token::SquareBracketBlock => {
                parser.parse_nested_block(|nested| check_tokens(nested, context))?;
            }
            _ => return Err(refused()),
        }
    }
}

fn is_allowed_function(name: &str, context: Context) -> bool {
    let allowed = match context {
        Context::Selector => svg_allow::CSS_SELECTOR_FUNCTIONS,
        Context::Value => svg_allow::CSS_FUNCTIONS,
    };
    allowed.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// The inside of `url("…")`: one string naming an element of this document.
fn local_url<'i>(parser: &mut Parser<'i>) -> Result<(), Refused> {
    let url = parser.expect_string().map_err(|_| refused())?.clone();
    if !url.starts_with('#') || !parser.is_exhausted() {
        return Err(refused());
    }
    Ok(())
}

/// Keeps a declaration of an allowed property with a checked value.
struct Declarations;

impl<'i> DeclarationParser<'i> for Declarations {
    type Declaration = String;
    type Error = ();

    fn parse_value(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i>,
        _start: &ParserState,
    ) -> Result<String, Refused> {
        let name = name.to_ascii_lowercase();
        let start = input.position();
        check_tokens(input, Context::Value)?;
        let value = input.slice_from(start).trim();
        if !svg_allow::CSS_PROPERTIES.contains(&name.as_str()) || value.contains('\\') || value.is_empty() {
            return Err(refused());
        }
        Ok(format!("{name}:{value}"))
    }
}

impl<'i> AtRuleParser<'i> for Declarations {
    type Prelude = ();
    type AtRule = String;
    type Error = ();
}

impl<'i> QualifiedRuleParser<'i> for Declarations {
    type Prelude = ();
    type QualifiedRule = String;
    type Error = ();
}

impl<'i> RuleBodyItemParser<'i, String, ()> for Declarations {
    fn parse_declarations(&self) -> bool {
        true
    }

    fn parse_qualified(&self) -> bool {
        false
    }
}

/// Keeps style rules with a checked selector; refuses every at-rule (the trait's default).
struct SheetRules;

impl<'i> QualifiedRuleParser<'i> for SheetRules {
    type Prelude = String;
    type QualifiedRule = String;
    type Error = ();

    fn parse_prelude(&mut self, input: &mut Parser<'i>) -> Result<String, Refused> {
        let start = input.position();
        check_tokens(input, Context::Selector)?;
        let selector = input.slice_from(start).trim();
        if selector.is_empty() || selector.contains('\\') {
            return Err(refused());
        }
        Ok(selector.to_owned())
    }

    fn parse_block(
        &mut self,
        selector: String,
        _start: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<String, Refused> {
        Ok(format!("{selector}{{{}}}", declarations_of(input).join(";")))
    }
}

impl<'i> AtRuleParser<'i> for SheetRules {
    type Prelude = ();
    type AtRule = String;
    type Error = ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_keep_paint_and_drop_remote_references() {
        let style = "fill:url(#grad);stroke:#000;stroke-width:2px;background:url(https://x.example/a.png);\
                     filter:url( 'https://x.example/f.svg#f' );mask:url(\"#m\");behavior:url(x.htc);\
                     --custom:1;fill-opacity:.5 !important;opacity:u\\72l(https://x.example)";
        assert_eq!(
            sanitize_declarations(style),
            "fill:url(#grad);stroke:#000;stroke-width:2px;mask:url(\"#m\");fill-opacity:.5 !important"
        );
    }

    #[test]
    fn at_rules_and_escapes_are_dropped_from_sheets() {
        let css =
            "@import url(https://x.example/a.css);\n@import 'b.css';\n.cls-1{fill:#f00;stroke:url(//x.example/p#a)}\n\
                   @font-face{font-family:X;src:url(https://x.example/f.woff)}\n\
                   @media screen{.a{fill:red}}\n#a > .b:not(.c), rect[data-x='1']{opacity:0.5}\n\
                   .e\\73 cape{fill:red}\n.st0{fill:none;stroke:#1d1d1b;stroke-miterlimit:10}";
        assert_eq!(
            sanitize_stylesheet(css),
            ".cls-1{fill:#f00}\n#a > .b:not(.c), rect[data-x='1']{opacity:0.5}\n.st0{fill:none;stroke:#1d1d1b;stroke-miterlimit:10}"
        );
    }

    #[test]
    fn a_selector_cannot_open_a_rule_of_its_own() {
        // A string or block in a selector stays inside it; a stray closing brace refuses the rule.
        let css = "a[title='}*{fill:url(https://x.example/)}']{fill:red}\n} *{fill:url(https://x.example/)}\n\
                   a[title='plain words']{fill:blue}";
        assert_eq!(sanitize_stylesheet(css), "a[title='plain words']{fill:blue}");
    }

    #[test]
    fn presentation_values() {
        assert!(is_safe_value("fill", "url(#a) #fff"));
        assert!(is_safe_value("font-family", "'Myriad Pro', sans-serif"));
        assert!(is_safe_value("transform", "translate(10 20) rotate(45)"));
        assert!(!is_safe_value("fill", "url(https://x.example/#a)"));
        assert!(!is_safe_value("fill", "URL(//x.example/#a)"));
        assert!(!is_safe_value("filter", "u\\72l(//x.example/#a)"));
        assert!(!is_safe_value("cursor", "pointer"), "not a property kept");
        assert!(!is_safe_value("fill", "image-set('a.png' 1x)"));
        assert!(is_inert_values("0;10;0"));
        assert!(is_inert_values("#fff;url(#g);red"));
        assert!(!is_inert_values("red;url(http://x.example/a.svg#b)"));
    }
}
