//! Derives and impls of a trait made optional in generated code: behind a
//! Cargo feature of the crate the code goes into.
//!
//! progenitor and typify derive `schemars::JsonSchema` on every type (and
//! write a few impls of it by hand), and the SDK emitter does the same on
//! its own types; an integrator needs none of it at run time. Rewritten
//! here, on tokens, so that the SDK builds without `schemars` unless its
//! `schemars` feature is on:
//! - `#[derive(.., schemars::JsonSchema, ..)]` loses it and gains
//!   `#[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]`;
//! - a `#[schemars(..)]` helper attribute becomes
//!   `#[cfg_attr(feature = "schemars", schemars(..))]`;
//! - `impl .. schemars::JsonSchema for ..` gains `#[cfg(feature = "schemars")]`.
//!
//! typify checks a string's `pattern` with `regress`, an ECMAScript regex
//! engine, when a value is built or decoded. The server checks every
//! pattern it declares and names the field it refuses, so the SDK checks
//! them only when its `patterns` feature is on ([`patterns`]): the engine
//! stays out of a default build.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::quote;

/// `tokens` with every use of `schemars::JsonSchema` behind the
/// `schemars` feature.
pub(crate) fn schemars(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < trees.len() {
        match (&trees[i], trees.get(i + 1)) {
            (TokenTree::Punct(hash), Some(TokenTree::Group(attr)))
                if hash.as_char() == '#' && attr.delimiter() == Delimiter::Bracket =>
            {
                out.extend(attribute(attr));
                i += 2;
            }
            (TokenTree::Ident(word), _)
                if word == "impl" && implements_json_schema(&trees[i + 1..]) =>
            {
                out.extend(quote!(#[cfg(feature = "schemars")]));
                out.extend([trees[i].clone()]);
                i += 1;
            }
            (TokenTree::Group(group), _) => {
                let mut inner = Group::new(group.delimiter(), schemars(group.stream()));
                inner.set_span(group.span());
                out.extend([TokenTree::Group(inner)]);
                i += 1;
            }
            (other, _) => {
                out.extend([other.clone()]);
                i += 1;
            }
        }
    }
    out
}

/// `tokens` with typify's pattern checks behind the `patterns` feature:
/// each `static PATTERN: .. = ..;` and the `if PATTERN.. { .. }` after it
/// become one block under `#[cfg(feature = "patterns")]`.
pub(crate) fn patterns(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < trees.len() {
        if let Some(end) = pattern_check(&trees[i..]) {
            let check: TokenStream = trees[i..i + end].iter().cloned().collect();
            out.extend(quote!(#[cfg(feature = "patterns")] { #check }));
            i += end;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), patterns(group.stream()));
                inner.set_span(group.span());
                out.extend([TokenTree::Group(inner)]);
            }
            other => out.extend([other.clone()]),
        }
        i += 1;
    }
    out
}

/// How many tokens typify's pattern check at the head of `trees` spans:
/// `static PATTERN .. ;` then `if PATTERN .. { .. }`.
fn pattern_check(trees: &[TokenTree]) -> Option<usize> {
    let word =
        |tree: Option<&TokenTree>, w: &str| matches!(tree, Some(TokenTree::Ident(i)) if i == w);
    if !(word(trees.first(), "static") && word(trees.get(1), "PATTERN")) {
        return None;
    }
    let semi = trees
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))?;
    if !(word(trees.get(semi + 1), "if") && word(trees.get(semi + 2), "PATTERN")) {
        return None;
    }
    let body = trees[semi + 3..]
        .iter()
        .position(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace))?;
    Some(semi + 3 + body + 1)
}

/// Whether a path's tokens name `schemars::JsonSchema`.
fn is_json_schema(path: &[TokenTree]) -> bool {
    let text: String = path.iter().map(ToString::to_string).collect();
    text.trim_start_matches("::") == "schemars::JsonSchema"
}

/// One attribute (the bracket group after `#`), rewritten.
fn attribute(attr: &Group) -> TokenStream {
    let inner: Vec<TokenTree> = attr.stream().into_iter().collect();
    match inner.as_slice() {
        [TokenTree::Ident(name), TokenTree::Group(list)]
            if name == "derive" && list.delimiter() == Delimiter::Parenthesis =>
        {
            let items: Vec<Vec<TokenTree>> = split_commas(list.stream());
            let kept: Vec<TokenStream> = items
                .iter()
                .filter(|path| !is_json_schema(path))
                .map(|path| path.iter().cloned().collect())
                .collect();
            if kept.len() == items.len() {
                return unchanged(attr);
            }
            let mut out = TokenStream::new();
            if !kept.is_empty() {
                out.extend(quote!(#[derive(#(#kept),*)]));
            }
            out.extend(quote!(#[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]));
            out
        }
        [TokenTree::Ident(name), TokenTree::Group(args)] if name == "schemars" => {
            quote!(#[cfg_attr(feature = "schemars", schemars #args)])
        }
        _ => unchanged(attr),
    }
}

/// `#[..]` as it was.
fn unchanged(attr: &Group) -> TokenStream {
    TokenStream::from_iter([
        TokenTree::Punct(proc_macro2::Punct::new('#', proc_macro2::Spacing::Alone)),
        TokenTree::Group(attr.clone()),
    ])
}

/// The comma-separated items of a list, each as its tokens.
fn split_commas(list: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut items = vec![Vec::new()];
    for tree in list {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => items.push(Vec::new()),
            _ => items.last_mut().expect("one").push(tree),
        }
    }
    items.retain(|item| !item.is_empty());
    items
}

/// Whether the tokens after `impl` implement `schemars::JsonSchema`: the
/// trait path between the generics and `for`.
fn implements_json_schema(rest: &[TokenTree]) -> bool {
    let punct = |tree: &TokenTree, c: char| matches!(tree, TokenTree::Punct(p) if p.as_char() == c);
    // Past the generics (`impl<T: Bound>`), if any.
    let mut start = 0;
    if rest.first().is_some_and(|t| punct(t, '<')) {
        let mut depth = 0;
        for (i, tree) in rest.iter().enumerate() {
            if punct(tree, '<') {
                depth += 1;
            } else if punct(tree, '>') {
                depth -= 1;
                if depth == 0 {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    let mut depth = 0;
    for (i, tree) in rest.iter().enumerate().skip(start) {
        match tree {
            t if punct(t, '<') => depth += 1,
            t if punct(t, '>') => depth -= 1,
            TokenTree::Ident(word) if word == "for" && depth == 0 => {
                return is_json_schema(&rest[start..i]);
            }
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => return false,
            t if punct(t, ';') => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(tokens: TokenStream) -> String {
        tokens.to_string()
    }

    #[test]
    fn the_derive_moves_behind_the_feature_and_the_rest_stays() {
        let out = schemars(quote! {
            pub mod types {
                #[derive(Clone, Debug, schemars::JsonSchema, PartialEq)]
                #[serde(transparent)]
                pub struct A(String);
            }
        });
        let out = text(out);
        assert!(
            out.contains("# [derive (Clone , Debug , PartialEq)]"),
            "{out}"
        );
        assert!(
            out.contains(
                "# [cfg_attr (feature = \"schemars\" , derive (:: schemars :: JsonSchema))]"
            ),
            "{out}"
        );
        assert!(out.contains("# [serde (transparent)]"), "{out}");
    }

    #[test]
    fn pattern_checks_move_behind_the_feature_and_the_rest_stays() {
        let out = text(patterns(quote! {
            impl ::std::str::FromStr for Code {
                fn from_str(value: &str) -> Result<Self, E> {
                    if value.len() > 8usize { return Err("long".into()); }
                    static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
                        ::std::sync::LazyLock::new(|| { ::regress::Regex::new("^a").unwrap() });
                    if PATTERN.find(value).is_none() { return Err("pattern".into()); }
                    Ok(Self(value.to_string()))
                }
            }
            static OTHER: u8 = 1;
        }));
        assert!(
            out.contains("# [cfg (feature = \"patterns\")] { static PATTERN"),
            "{out}"
        );
        assert!(
            out.contains("return Err (\"pattern\" . into ()) ; } } Ok (Self"),
            "{out}"
        );
        assert!(out.contains("if value . len () > 8usize"), "{out}");
        assert!(out.contains("static OTHER : u8 = 1 ;"), "{out}");
        assert_eq!(out.matches("cfg (feature").count(), 1, "{out}");
    }

    #[test]
    fn helper_attributes_and_impls_move_behind_the_feature() {
        let out = text(schemars(quote! {
            #[derive(::schemars::JsonSchema)]
            pub struct P {
                #[schemars(with = "X")]
                pub a: Option<Option<u8>>,
            }
            impl ::schemars::JsonSchema for Timeout {
                fn schema_name() -> String { "T".into() }
            }
            impl<T: ::schemars::JsonSchema> Other for W<T> {}
            impl From<u8> for Timeout {}
        }));
        assert!(!out.contains("# [derive ()]"), "{out}");
        assert!(
            out.contains("# [cfg_attr (feature = \"schemars\" , schemars (with = \"X\"))]"),
            "{out}"
        );
        assert_eq!(
            out.matches("# [cfg (feature = \"schemars\")]").count(),
            1,
            "{out}"
        );
        assert!(
            out.contains(
                "# [cfg (feature = \"schemars\")] impl :: schemars :: JsonSchema for Timeout"
            ),
            "{out}"
        );
    }
}
