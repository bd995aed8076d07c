//! The SDK generator: progenitor run on a client view of the spec.
//!
//! progenitor 0.15 takes request bodies only as `application/json` (and a few
//! others) and types only `application/json` responses. The client view reads
//! every JSON media type (`application/merge-patch+json`,
//! `application/problem+json`, `application/json; charset=utf-8`) as
//! `application/json`; the hand-written runtime in `users-client` puts the real
//! media types on the wire and decodes problems. Before progenitor runs, a
//! preflight lists everything in the spec it would panic on or skip without a
//! word, with the spec location; anything the runtime does not handle fails
//! generation.

use anyhow::bail;
use openapiv3::{OpenAPI, Operation, ReferenceOr, Response, StatusCode};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle};

use super::naming::escape;

/// Request body media types progenitor can send.
const SENDABLE: [&str; 4] = [
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
];
/// The hand-written runtime state the generated client carries.
const RUNTIME_TYPE: &str = "crate::runtime::Runtime";

/// Something in the spec progenitor cannot take as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// JSON Pointer into the spec.
    pub(crate) pointer: String,
    pub(crate) what: String,
    /// Whether the hand-written runtime covers it; otherwise generation fails.
    pub(crate) handled: bool,
}

/// What the client generator writes, and what it left out.
pub(crate) struct Output {
    /// progenitor's client.
    pub(crate) client: String,
    /// The SDK emitter's httpmock helpers.
    pub(crate) mock: String,
    /// The SDK emitter's surface.
    pub(crate) sdk: String,
    /// The CLI's command table.
    pub(crate) cli: String,
    /// A code sample per operation.
    pub(crate) samples: Vec<super::sdk::Sample>,
    /// The parts of the spec left out.
    pub(crate) refusals: Vec<super::Refusal>,
}

/// The generated client, the httpmock helpers, the SDK's surface and its
/// code samples, and the operations left out of them.
pub(crate) fn generate(source: &serde_json::Value, krate: &str) -> anyhow::Result<Output> {
    let mut source = super::lift::lift_bodies(source);
    let open = super::open_enum::collect(&mut source);
    let mut refusals = Vec::new();
    settle_defaults(&mut source);
    untitled_schemas(&mut source);
    drop_unstated_bodies(&mut source);
    any_json_where_unstated(&mut source);
    choose_request_media(&mut source, &mut refusals);
    // The SDK emitter reads the operations as written; progenitor reads
    // several success types as one stream of bytes, which the SDK decodes,
    // and a body it cannot send as bytes.
    let mut written = source.clone();
    bytes_for_other_media(&mut source);
    let several = one_success_stream(&mut source);
    errors_read_by_the_runtime(&mut source);
    let spec = readable_parts(&mut source, &mut written, &mut refusals)?;
    let mut whole = Vec::new();
    let mut left_out = std::collections::BTreeSet::new();
    for finding in preflight(&spec).into_iter().filter(|f| !f.handled) {
        match super::lift::operation_at(&finding.pointer) {
            Some(op) => {
                left_out.insert(op);
                refusals.push(super::Refusal {
                    pointer: finding.pointer,
                    reason: finding.what,
                });
            }
            None => whole.push(format!("  {}: {}", finding.pointer, finding.what)),
        }
    }
    if !whole.is_empty() {
        bail!(
            "progenitor cannot take the spec as it is:\n{}",
            whole.join("\n")
        );
    }
    for (path, method) in &left_out {
        remove_operation(&mut source, path, method);
        remove_operation(&mut written, path, method);
    }
    // An object a patch can neither merge nor replace is the server's to
    // refuse; the SDK sends it as its caller builds it.
    let (mut merge, _) = super::three_state::merge_schemas(&source);
    let mut open = open;
    let mut lifted = source.clone();
    lift_patch_members(&mut lifted, &merge)?;
    share_nullable_components(&mut lifted);
    state_nullable(&mut lifted);
    let (client, generator) = match progenitor_on(&lifted, &merge, &open) {
        Ok(done) => done,
        Err(whole) => {
            // progenitor asserts where it should refuse: what it fails on is
            // found by halving the operations, and left out, named.
            let isolated = isolate(&lifted, &merge, &open, &whole)?;
            for ((path, method), reason) in &isolated.refused {
                remove_operation(&mut source, path, method);
                remove_operation(&mut written, path, method);
                refusals.push(super::Refusal {
                    pointer: format!("/paths/{}/{method}", escape(path)),
                    reason: reason.clone(),
                });
            }
            merge.retain(|name| isolated.kept_schemas.contains(name));
            open.retain(|name, _| isolated.kept_schemas.contains(name));
            (isolated.client, isolated.generator)
        }
    };
    // What the emitter fails on inside one operation leaves that operation
    // out of the SDK's surface (progenitor's client keeps its method): the
    // operations it cannot model, all at once; then, one at a time, any
    // that fails later. Where it models every operation, the emitter that
    // found so is the one that writes.
    let types = generator.get_type_space();
    let emit = |emitter: &super::sdk::Sdk<'_>| -> anyhow::Result<_> {
        let sdk = emitter.generate()?;
        Ok((
            sdk,
            emitter.samples(krate)?,
            emitter.mock()?,
            emitter.cli()?,
        ))
    };
    let (mut emitted, unmodelled) = {
        let emitter = super::sdk::Sdk::new(&written, &several, &merge, &open, types, krate);
        match emitter.unmodelled() {
            [] => (Some(emit(&emitter)), Vec::new()),
            unmodelled => (None, unmodelled.to_vec()),
        }
    };
    for (path, method, reason) in unmodelled {
        remove_operation(&mut written, &path, &method);
        refusals.push(super::Refusal {
            pointer: format!("/paths/{}/{method}", escape(&path)),
            reason,
        });
    }
    let (sdk, samples, mock, cli) = loop {
        let err = match emitted.take().unwrap_or_else(|| {
            emit(&super::sdk::Sdk::new(
                &written, &several, &merge, &open, types, krate,
            ))
        }) {
            Ok(done) => break done,
            Err(err) => err,
        };
        let message = format!("{err:#}");
        let Some((pointer, reason)) = message.split_once(": ") else {
            return Err(err);
        };
        let Some((path, method)) = super::lift::operation_at(pointer) else {
            return Err(err);
        };
        if !remove_operation(&mut written, &path, &method) {
            return Err(err);
        }
        refusals.push(super::Refusal {
            pointer: pointer.to_owned(),
            reason: reason.to_owned(),
        });
    };
    Ok(Output {
        client: without_pseudo_code(&super::format_rust(super::optional::patterns(
            super::optional::schemars(client),
        ))?),
        mock: super::format_rust(mock)?,
        sdk: super::format_rust(super::optional::schemars(sdk))?,
        cli: super::format_rust(cli)?,
        samples,
        refusals,
    })
}

/// The spec as `openapiv3` reads it. Where one part does not read (a
/// schema whose `type` is an object, say), the whole document would not:
/// each component and each path item is then read on its own, and what
/// does not read is left out of `source` and `written` and named; what
/// refers to it is left out later, as a reference that does not resolve.
fn readable_parts(
    source: &mut serde_json::Value,
    written: &mut serde_json::Value,
    refusals: &mut Vec<super::Refusal>,
) -> anyhow::Result<OpenAPI> {
    use openapiv3::{
        Callback, Example, Header, Link, Parameter, PathItem, RequestBody, Schema, SecurityScheme,
    };
    let whole = match serde_json::from_value::<OpenAPI>(source.clone()) {
        Ok(spec) => return Ok(spec),
        Err(err) => err,
    };
    fn reads<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Option<String> {
        serde_json::from_value::<ReferenceOr<T>>(value.clone())
            .err()
            .map(|e| e.to_string())
    }
    /// Why a part does not read, if it does not.
    type Check = fn(&serde_json::Value) -> Option<String>;
    let kinds: [(&str, Check); 9] = [
        ("schemas", reads::<Schema>),
        ("responses", reads::<Response>),
        ("parameters", reads::<Parameter>),
        ("examples", reads::<Example>),
        ("requestBodies", reads::<RequestBody>),
        ("headers", reads::<Header>),
        ("securitySchemes", reads::<SecurityScheme>),
        ("links", reads::<Link>),
        ("callbacks", |v| {
            serde_json::from_value::<Callback>(v.clone())
                .err()
                .map(|e| e.to_string())
        }),
    ];
    for (kind, check) in kinds {
        // `get_mut`, not indexing: an index inserts what it does not find.
        let Some(parts) = source
            .get_mut("components")
            .and_then(|c| c.get_mut(kind))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        let bad: Vec<(String, String)> = parts
            .iter()
            .filter_map(|(name, part)| check(part).map(|why| (name.clone(), why)))
            .collect();
        for (name, why) in bad {
            parts.remove(&name);
            if let Some(kept) = written
                .get_mut("components")
                .and_then(|c| c.get_mut(kind))
                .and_then(serde_json::Value::as_object_mut)
            {
                kept.remove(&name);
            }
            refusals.push(super::Refusal {
                pointer: format!("/components/{kind}/{}", escape(&name)),
                reason: format!("progenitor cannot read it: {why}"),
            });
        }
    }
    if let Some(paths) = source
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    {
        let bad: Vec<(String, Vec<String>, String)> = paths
            .iter()
            .filter_map(|(path, item)| {
                let why = reads::<PathItem>(item)?;
                let methods = item
                    .as_object()
                    .map(|item| {
                        item.keys()
                            .filter(|m| super::lift::METHODS.contains(&m.as_str()))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                Some((path.clone(), methods, why))
            })
            .collect();
        for (path, methods, why) in bad {
            paths.remove(&path);
            if let Some(kept) = written
                .get_mut("paths")
                .and_then(serde_json::Value::as_object_mut)
            {
                kept.remove(&path);
            }
            for method in methods {
                refusals.push(super::Refusal {
                    pointer: format!("/paths/{}/{method}", escape(&path)),
                    reason: format!("progenitor cannot read its path item: {why}"),
                });
            }
        }
    }
    serde_json::from_value(source.clone()).map_err(|_| whole.into())
}

/// Removes the operation `method` of `path` from `spec`; whether it was
/// there.
fn remove_operation(spec: &mut serde_json::Value, path: &str, method: &str) -> bool {
    spec["paths"]
        .get_mut(path)
        .and_then(|item| item.as_object_mut())
        .and_then(|item| item.remove(method))
        .is_some()
}

/// An operation: its path and method.
type OperationKey = (String, String);

/// progenitor's client of `lifted` (operations and schemas as the client view
/// reads them), with the generator that holds its types; a panic inside
/// progenitor or typify is an error naming it, never a crash of the build
/// tool.
fn progenitor_on(
    lifted: &serde_json::Value,
    merge: &std::collections::BTreeSet<String>,
    open: &std::collections::BTreeMap<String, super::open_enum::OpenEnum>,
) -> Result<(proc_macro2::TokenStream, Generator), String> {
    let spec: OpenAPI = serde_json::from_value(lifted.clone()).map_err(|e| e.to_string())?;
    let view = client_view(&spec);
    let mut generator = Generator::new(&settings(merge, open).map_err(|e| e.to_string())?);
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        generator.generate_tokens(&view)
    }));
    match generated {
        Ok(Ok(client)) => Ok((client, generator)),
        Ok(Err(err)) => Err(format!("progenitor refused the client view: {err}")),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("progenitor panicked on the client view: {message}"))
        }
    }
}

/// What [`isolate`] found: the client of the operations progenitor takes,
/// the operations it fails on with its message, and the component schemas
/// the kept operations reach.
struct Isolated {
    client: proc_macro2::TokenStream,
    generator: Generator,
    refused: Vec<(OperationKey, String)>,
    kept_schemas: std::collections::BTreeSet<String>,
}

/// The most work [`isolate`] does on one spec, in operations handed to
/// progenitor: this many times the spec's operations.
const ISOLATION_WORK: usize = 24;

/// The operations progenitor fails on, found by halving. First each group
/// alone: a group that generates is kept aside, a failing one is halved
/// until the operation that fails is alone, and left out with progenitor's
/// message (`whole` is the failure on the whole spec, so the search starts
/// from its halves). Then what generated alone is tried together; where
/// that fails (operations that fail only beside others), a group is kept
/// when it generates together with what was kept so far, halved otherwise.
/// Each run sees only the component schemas its operations reach, so a
/// schema no kept operation uses cannot fail it. After [`ISOLATION_WORK`]
/// times the spec's operations have been tried, what is left untried is left
/// out, saying so.
fn isolate(
    lifted: &serde_json::Value,
    merge: &std::collections::BTreeSet<String>,
    open: &std::collections::BTreeMap<String, super::open_enum::OpenEnum>,
    whole: &str,
) -> anyhow::Result<Isolated> {
    let operations = super::lift::operations(lifted);
    let budget = ISOLATION_WORK * operations.len().max(1);
    let attempt = |kept: &[OperationKey]| {
        let (spec, reached) = restricted(lifted, kept);
        progenitor_on(&spec, merge, open).map(|(client, generator)| (client, generator, reached))
    };
    let (best, failing) = search(operations, budget, attempt);
    let refused = failing
        .into_iter()
        .map(|(op, message)| {
            let reason = message.unwrap_or_else(|| {
                format!(
                    "not tried: progenitor failed on the spec ({whole}) and the search for the \
                     operations it fails on ran out of work ({ISOLATION_WORK} times the spec's \
                     operations)"
                )
            });
            (op, reason)
        })
        .collect();
    let (client, generator, kept_schemas) = match best {
        Some(done) => done,
        None => attempt(&[]).map_err(|message| {
            anyhow::anyhow!("{whole}; and with no operation at all: {message}")
        })?,
    };
    Ok(Isolated {
        client,
        generator,
        refused,
        kept_schemas,
    })
}

/// [`isolate`]'s search over `items`, all of which together fail: what
/// `attempt` made of the items it keeps (none when it kept none), and each
/// item left out with its failure (`None`: not tried, `budget` items having
/// been attempted).
fn search<T: Clone, R>(
    items: Vec<T>,
    budget: usize,
    attempt: impl Fn(&[T]) -> Result<R, String>,
) -> (Option<R>, Vec<(T, Option<String>)>) {
    let mut search = Halving {
        work: 0,
        budget,
        attempt,
        failing: Vec::new(),
    };
    // Each group alone, starting from the halves of all (which fail).
    let groups = if items.len() > 1 {
        halves(items).into()
    } else {
        vec![items]
    };
    let (passing, passed, best) = search.halve(groups, false);
    // Together: what one group alone made is already what they all make.
    if passed < 2 {
        return (best, search.failing);
    }
    if let Ok(done) = search.attempt(&passing) {
        return (Some(done), search.failing);
    }
    // Some items fail only beside others.
    let (_, _, best) = search.halve(vec![passing], true);
    (best, search.failing)
}

/// A group's two halves, the first last (tried next).
fn halves<T>(mut group: Vec<T>) -> [Vec<T>; 2] {
    let second = group.split_off(group.len() / 2);
    [second, group]
}

/// [`search`]'s state: the work done (items attempted), its bound, and the
/// items left out so far.
struct Halving<A, T> {
    work: usize,
    budget: usize,
    attempt: A,
    failing: Vec<(T, Option<String>)>,
}

impl<T: Clone, R, A: Fn(&[T]) -> Result<R, String>> Halving<A, T> {
    fn attempt(&mut self, items: &[T]) -> Result<R, String> {
        self.work += items.len().max(1);
        (self.attempt)(items)
    }

    /// Tries `groups` (the next last), halving a failing one until the item
    /// that fails is alone, which is left out with its failure; once the
    /// work is spent, what is left is left out untried. A group is tried
    /// alone, or (`beside`) with every item that passed before it. Returns
    /// the items that passed, in how many groups, and what the last attempt
    /// that passed made.
    fn halve(&mut self, mut groups: Vec<Vec<T>>, beside: bool) -> (Vec<T>, usize, Option<R>) {
        let mut passing: Vec<T> = Vec::new();
        let mut passed = 0;
        let mut best = None;
        while let Some(group) = groups.pop() {
            if self.work >= self.budget {
                self.failing
                    .extend(group.into_iter().map(|item| (item, None)));
                continue;
            }
            let result = if beside {
                let trial: Vec<T> = passing.iter().chain(&group).cloned().collect();
                self.attempt(&trial)
            } else {
                self.attempt(&group)
            };
            match result {
                Ok(done) => {
                    passing.extend(group);
                    passed += 1;
                    best = Some(done);
                }
                Err(message) if group.len() == 1 => {
                    let item = group.into_iter().next().expect("one");
                    self.failing.push((item, Some(message)));
                }
                Err(_) => groups.extend(halves(group)),
            }
        }
        (passing, passed, best)
    }
}

/// `spec` with only the operations `kept`, and only the components they
/// reach (through `$ref`, transitively); the names of the component schemas
/// kept.
fn restricted(
    spec: &serde_json::Value,
    kept: &[OperationKey],
) -> (serde_json::Value, std::collections::BTreeSet<String>) {
    use serde_json::Value;
    // Built from the parts kept, never a copy of the whole: the search
    // makes many of these from large specs.
    let kept: std::collections::BTreeSet<(&str, &str)> = kept
        .iter()
        .map(|(path, method)| (path.as_str(), method.as_str()))
        .collect();
    let mut out = serde_json::Map::new();
    for (key, value) in spec.as_object().into_iter().flatten() {
        if key != "paths" && key != "components" {
            out.insert(key.clone(), value.clone());
        }
    }
    let mut paths = serde_json::Map::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        let Some(item) = item.as_object() else {
            continue;
        };
        let is_method = |key: &str| super::lift::METHODS.contains(&key);
        if !item
            .keys()
            .any(|key| is_method(key) && kept.contains(&(path.as_str(), key.as_str())))
        {
            continue;
        }
        let item: serde_json::Map<String, Value> = item
            .iter()
            .filter(|(key, _)| !is_method(key) || kept.contains(&(path.as_str(), key.as_str())))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        paths.insert(path.clone(), Value::Object(item));
    }
    // Every `#/components/...` a kept operation reaches.
    let mut reached = std::collections::BTreeSet::new();
    let mut pending: Vec<&Value> = paths.values().collect();
    let mut refs = Vec::new();
    while let Some(value) = pending.pop() {
        refs.clear();
        collect_refs(value, &mut refs);
        for target in &refs {
            let Some(rest) = target.strip_prefix("#/components/") else {
                continue;
            };
            let mut parts = rest.splitn(2, '/');
            let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let name = super::naming::unescape(name);
            if let Some(target) = spec["components"][kind].get(&name)
                && reached.insert((kind.to_owned(), name))
            {
                pending.push(target);
            }
        }
    }
    out.insert("paths".into(), Value::Object(paths));
    if let Some(components) = spec.get("components").and_then(Value::as_object) {
        let mut kept_components = serde_json::Map::new();
        for (kind, entries) in components {
            let entries = match entries.as_object() {
                Some(entries) if kind != "securitySchemes" => Value::Object(
                    entries
                        .iter()
                        .filter(|(name, _)| reached.contains(&(kind.clone(), (*name).clone())))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect(),
                ),
                _ => entries.clone(),
            };
            kept_components.insert(kind.clone(), entries);
        }
        out.insert("components".into(), Value::Object(kept_components));
    }
    let schemas = reached
        .into_iter()
        .filter(|(kind, _)| kind == "schemas")
        .map(|(_, name)| name)
        .collect();
    (Value::Object(out), schemas)
}

/// Every `$ref` in `value`.
fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", serde_json::Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// progenitor documents each method with an `ignore` snippet over free
/// variables, which no doctest can compile: each becomes a pointer to the
/// SDK's method and its compiled sample.
fn without_pseudo_code(text: &str) -> String {
    const OPEN: &str = "```ignore\n";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let body = &rest[start + OPEN.len()..];
        let Some(end) = body.find("```") else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str("Called through the SDK's `Client`; `crate::samples` compiles each call.\n");
        rest = &body[end + 3..];
    }
    out.push_str(rest);
    out
}

/// `response`, or the component response it refers to (`components` is
/// the spec's `components/responses`).
fn resolved<'a>(
    response: &'a serde_json::Value,
    components: &'a serde_json::Value,
) -> &'a serde_json::Value {
    match response["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/responses/"))
    {
        Some(name) => &components[name],
        None => response,
    }
}

/// An operation whose error statuses answer different types (two schemas,
/// a body beside none, a body without a schema) or a body that is not JSON
/// (which progenitor would hand over as a stream): progenitor takes one error
/// type, so its view documents no error and answers each as an unexpected
/// response, whose body the runtime reads into the SDK's `Error`; the SDK's
/// `errors::<Op>` still types each documented status from the spec.
fn errors_read_by_the_runtime(spec: &mut serde_json::Value) {
    let components = spec["components"]["responses"].clone();
    each_responses(spec, |_, _, responses| {
        let errors: Vec<String> = responses
            .keys()
            .filter(|status| status.starts_with('4') || status.starts_with('5'))
            .cloned()
            .collect();
        let kinds: std::collections::BTreeSet<String> = errors
            .iter()
            .map(|status| {
                let response = resolved(&responses[status], &components);
                // progenitor types an inline schema once per response: two
                // are two types even when they are written alike.
                let inline = |schema: &serde_json::Value| match schema.get("$ref") {
                    Some(reference) => reference.to_string(),
                    None => format!("the inline schema of {status}"),
                };
                let json = response["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .find(|(media, _)| as_sent(media) == "application/json");
                match (
                    json,
                    response["content"].as_object().filter(|c| !c.is_empty()),
                ) {
                    (Some((_, media)), _) if media.get("schema").is_some() => {
                        inline(&media["schema"])
                    }
                    (Some(_), _) => "a JSON body without a schema".to_owned(),
                    (None, Some(_)) => "another body".to_owned(),
                    (None, None) => "no body".to_owned(),
                }
            })
            .collect();
        // progenitor hands a body that is not JSON over as a stream, which
        // the SDK's errors do not hold: the runtime reads it instead.
        let unschemed = kinds.contains("a JSON body without a schema");
        let other = kinds.contains("another body");
        if kinds.len() > 1 || unschemed || other {
            for status in &errors {
                responses.remove(status);
            }
        }
    });
}

/// An operation whose success statuses answer different types (a body
/// beside none, two schemas): progenitor takes one success type, so its
/// view answers every success as bytes (`2XX`, `application/octet-stream`),
/// and the SDK decodes them by status into a typed enum. Only JSON or empty
/// successes are read so; the operations changed are returned.
fn one_success_stream(
    spec: &mut serde_json::Value,
) -> std::collections::BTreeSet<(String, String)> {
    let mut changed = std::collections::BTreeSet::new();
    let components = spec["components"]["responses"].clone();
    each_responses(spec, |path, method, responses| {
        let successes: Vec<String> = responses
            .keys()
            .filter(|status| status.starts_with('2'))
            .cloned()
            .collect();
        let mut kinds = std::collections::BTreeSet::new();
        let mut readable = successes.iter().all(|status| status.parse::<u16>().is_ok());
        for status in &successes {
            let response = resolved(&responses[status], &components);
            let content = response["content"].as_object().filter(|c| !c.is_empty());
            match content {
                None => {
                    kinds.insert("none".to_owned());
                }
                Some(content) => {
                    match content
                        .iter()
                        .find(|(media, _)| as_sent(media) == "application/json")
                    {
                        Some((_, media)) => {
                            kinds.insert(media["schema"].to_string());
                        }
                        None => readable = false,
                    }
                }
            }
        }
        if kinds.len() < 2 || !readable {
            return;
        }
        let description = successes.join(", ");
        for status in &successes {
            responses.remove(status);
        }
        responses.insert(
            "2XX".into(),
            serde_json::json!({
                "description": format!("{description}, decoded by the SDK"),
                "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
            }),
        );
        changed.insert((path.to_owned(), method.to_owned()));
    });
    changed
}

/// How progenitor is run: builder-style calls, the runtime as the client's
/// inner state, and the merge-patch schemas as the SDK's three-state types.
fn settings(
    merge: &std::collections::BTreeSet<String>,
    open: &std::collections::BTreeMap<String, super::open_enum::OpenEnum>,
) -> anyhow::Result<GenerationSettings> {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq")
        // The hand-written runtime rides along in the generated client and
        // implements progenitor's hooks (auth, media types, retries).
        .with_inner_type(
            RUNTIME_TYPE
                .parse::<proc_macro2::TokenStream>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    // The merge-patch schemas are the SDK emitter's three-state types.
    for name in merge {
        settings.with_replacement(
            name,
            format!(
                "{}::{}",
                super::sdk::PATCH_MODULE,
                super::sdk::patch_ident(name)
            ),
            std::iter::empty(),
        );
    }
    // The open enums are the SDK emitter's, shown in `types` beside typify's.
    for name in open.keys() {
        settings.with_replacement(
            name,
            format!(
                "{}::{}",
                super::sdk::OPEN_MODULE,
                super::open_enum::rust_name(name)
            ),
            [
                typify::TypeSpaceImpl::FromStr,
                typify::TypeSpaceImpl::Display,
            ]
            .into_iter(),
        );
    }
    Ok(settings)
}

/// A `default` response as progenitor can type it: beside a success
/// response it is what every other status answers, `4XX` and `5XX` where
/// the operation does not document those ranges; alone it is the success
/// (`2XX`), and an error status still reaches the caller as a problem.
fn settle_defaults(spec: &mut serde_json::Value) {
    each_responses(spec, |_, _, responses| {
        let Some(default) = responses.remove("default") else {
            return;
        };
        let succeeds = responses.keys().any(|status| status.starts_with('2'));
        let ranges: &[&str] = if succeeds { &["4XX", "5XX"] } else { &["2XX"] };
        for range in ranges {
            if !responses.contains_key(*range) {
                responses.insert((*range).to_owned(), default.clone());
            }
        }
    });
}

/// Calls `f` with the path, method and responses of every operation.
fn each_responses(
    spec: &mut serde_json::Value,
    mut f: impl FnMut(&str, &str, &mut serde_json::Map<String, serde_json::Value>),
) {
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in super::lift::METHODS {
            if let Some(responses) = item
                .get_mut(method)
                .and_then(|op| op.get_mut("responses"))
                .and_then(|r| r.as_object_mut())
            {
                f(path, method, responses);
            }
        }
    }
}

/// A JSON body (request or response) without a schema admits any JSON:
/// it is given the empty schema, which both progenitor and the SDK read as
/// `serde_json::Value` (progenitor panics on a JSON body without one).
fn any_json_where_unstated(spec: &mut serde_json::Value) {
    let state = |content: Option<&mut serde_json::Value>| {
        for (media, entry) in content
            .and_then(|c| c.as_object_mut())
            .into_iter()
            .flatten()
        {
            if as_sent(media) == "application/json"
                && let Some(entry) = entry.as_object_mut()
            {
                entry
                    .entry("schema")
                    .or_insert_with(|| serde_json::json!({}));
            }
        }
    };
    each_responses(spec, |_, _, responses| {
        for response in responses.values_mut() {
            state(response.get_mut("content"));
        }
    });
    for kind in ["responses", "requestBodies"] {
        if let Some(entries) = spec["components"]
            .get_mut(kind)
            .and_then(|e| e.as_object_mut())
        {
            for entry in entries.values_mut() {
                state(entry.get_mut("content"));
            }
        }
    }
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        for method in super::lift::METHODS {
            state(
                item.get_mut(method)
                    .and_then(|op| op.get_mut("requestBody"))
                    .and_then(|b| b.get_mut("content")),
            );
        }
    }
}

/// A response whose only content is `*/*` without a schema states no body:
/// it has none, as the server generator reads it too.
fn drop_unstated_bodies(spec: &mut serde_json::Value) {
    let unstated = |response: &mut serde_json::Value| {
        let content = &response["content"];
        if content.as_object().is_some_and(|c| {
            c.len() == 1 && c.get("*/*").is_some_and(|m| m.get("schema").is_none())
        }) && let Some(response) = response.as_object_mut()
        {
            response.remove("content");
        }
    };
    if let Some(responses) = spec["components"]
        .get_mut("responses")
        .and_then(|r| r.as_object_mut())
    {
        responses.values_mut().for_each(unstated);
    }
    each_responses(spec, |_, _, responses| {
        responses.values_mut().for_each(unstated)
    });
}

/// One media type per request body, as progenitor takes: the JSON one
/// where there is one, else the first it can send. The others are left out
/// of the SDK. A body under `components/requestBodies` is chosen for once,
/// for every operation that refers to it.
fn choose_request_media(spec: &mut serde_json::Value, refusals: &mut Vec<super::Refusal>) {
    let choose = |content: &mut serde_json::Map<String, serde_json::Value>,
                  at: String,
                  refusals: &mut Vec<super::Refusal>| {
        let sent: std::collections::BTreeSet<&str> = content.keys().map(|m| as_sent(m)).collect();
        if sent.len() <= 1 {
            return;
        }
        let keep = content
            .keys()
            .find(|m| as_sent(m) == "application/json")
            .or_else(|| content.keys().find(|m| SENDABLE.contains(&as_sent(m))))
            .map(|m| as_sent(m).to_owned());
        let Some(keep) = keep else { return };
        let dropped: Vec<String> = content
            .keys()
            .filter(|m| as_sent(m) != keep)
            .cloned()
            .collect();
        for media in dropped {
            content.remove(&media);
            refusals.push(super::Refusal {
                pointer: format!("{at}/{}", escape(&media)),
                reason: format!("the SDK sends this body as {keep} only"),
            });
        }
    };
    each_request_content(spec, |content, at| choose(content, at, refusals));
}

/// Calls `f` with the content of every request body written in place (a
/// body under `components/requestBodies` once, for all that refer to it)
/// and its JSON Pointer.
fn each_request_content(
    spec: &mut serde_json::Value,
    mut f: impl FnMut(&mut serde_json::Map<String, serde_json::Value>, String),
) {
    if let Some(bodies) = spec
        .pointer_mut("/components/requestBodies")
        .and_then(|b| b.as_object_mut())
    {
        for (name, body) in bodies.iter_mut() {
            if let Some(content) = body.get_mut("content").and_then(|c| c.as_object_mut()) {
                f(
                    content,
                    format!("/components/requestBodies/{}/content", escape(name)),
                );
            }
        }
    }
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in super::lift::METHODS {
            if let Some(content) = item
                .get_mut(method)
                .and_then(|op| op.get_mut("requestBody"))
                .and_then(|b| b.get_mut("content"))
                .and_then(|c| c.as_object_mut())
            {
                f(
                    content,
                    format!("/paths/{}/{method}/requestBody/content", escape(path)),
                );
            }
        }
    }
}

/// A request body only in a media type progenitor cannot send and the SDK
/// does not type (XML, `application/vnd.ms-excel`, `image/png`): progenitor's
/// view sends it as bytes (`application/octet-stream`), the SDK's method
/// takes bytes, a file or a stream, and the runtime puts the spec's media
/// type on the wire. Multipart bodies are not bytes a caller should write:
/// they stay out.
fn bytes_for_other_media(spec: &mut serde_json::Value) {
    let rewrite = |content: &mut serde_json::Map<String, serde_json::Value>| {
        let typed = |media: &String| {
            let sent = as_sent(media);
            SENDABLE.contains(&sent) || sent.starts_with("multipart/")
        };
        if content.is_empty() || content.keys().any(typed) {
            return;
        }
        content.clear();
        content.insert(
            "application/octet-stream".into(),
            serde_json::json!({ "schema": { "type": "string", "format": "binary" } }),
        );
    };
    each_request_content(spec, |content, _| rewrite(content));
}

/// Schemas without their `title`: typify names a type after a title when
/// it has one, so a title equal to another type's name (a nullable enum
/// `Currency` titled `Currency`; a member titled `Phone Number` beside the
/// component `PhoneNumber`) gave two types of one name. Components are
/// named by their keys and inline schemas by where they are written.
fn untitled_schemas(spec: &mut serde_json::Value) {
    fn untitle(schema: &mut serde_json::Value) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        object.remove("title");
        for keyword in ["items", "additionalProperties", "not"] {
            if let Some(sub) = object.get_mut(keyword) {
                untitle(sub);
            }
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if let Some(serde_json::Value::Array(subs)) = object.get_mut(keyword) {
                subs.iter_mut().for_each(untitle);
            }
        }
        if let Some(serde_json::Value::Object(members)) = object.get_mut("properties") {
            members.values_mut().for_each(untitle);
        }
    }
    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        schemas.values_mut().for_each(untitle);
    }
}

/// A nullable inline schema that is a component plus `null` (the component's
/// branches, one of them marked `nullable`, or `x-nullable`) is written as
/// that component, nullable: the SDK then reads and writes one type for the
/// value (`Option<CustomAttributeValue>`, not a look-alike of it).
fn share_nullable_components(spec: &mut serde_json::Value) {
    use serde_json::Value;
    fn strip(schema: &Value) -> Value {
        let mut schema = schema.clone();
        if let Value::Object(object) = &mut schema {
            for key in [
                "description",
                "example",
                "examples",
                "nullable",
                "x-nullable",
                "title",
            ] {
                object.remove(key);
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = object.get_mut(key) {
                    branches.iter_mut().for_each(|b| *b = strip(b));
                }
            }
        }
        schema
    }
    fn nullable(schema: &Value) -> bool {
        let marked = |s: &Value| {
            s.get("nullable") == Some(&Value::Bool(true))
                || s.get("x-nullable") == Some(&Value::Bool(true))
        };
        marked(schema)
            || ["anyOf", "oneOf"].iter().any(|key| {
                schema
                    .get(key)
                    .and_then(Value::as_array)
                    .is_some_and(|b| b.iter().any(marked))
            })
    }
    let components: Vec<(String, Value)> = spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, schema)| {
            !nullable(schema) && (schema.get("anyOf").is_some() || schema.get("oneOf").is_some())
        })
        .map(|(name, schema)| (name.clone(), strip(schema)))
        .collect();
    if components.is_empty() {
        return;
    }
    fn visit(value: &mut Value, components: &[(String, Value)]) {
        match value {
            Value::Object(object) => {
                for child in object.values_mut() {
                    visit(child, components);
                }
                let schema = Value::Object(object.clone());
                if !nullable(&schema) {
                    return;
                }
                let stripped = strip(&schema);
                if let Some((name, _)) = components.iter().find(|(_, c)| *c == stripped) {
                    let mut shared = serde_json::json!({
                        "nullable": true,
                        "allOf": [{ "$ref": format!("#/components/schemas/{name}") }],
                    });
                    if let Some(text) = object.get("description") {
                        shared["description"] = text.clone();
                    }
                    *value = shared;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| visit(i, components)),
            _ => {}
        }
    }
    visit(spec, &components);
}

/// `x-nullable: true` (a schema OpenAPI 3.0 cannot mark `nullable`, for want
/// of a `type`) as `nullable: true`, which progenitor reads as an `Option`.
fn state_nullable(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            if object.get("x-nullable") == Some(&serde_json::Value::Bool(true)) {
                object.insert("nullable".into(), serde_json::Value::Bool(true));
            }
            object.values_mut().for_each(state_nullable);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(state_nullable),
        _ => {}
    }
}

/// Gives every inline member of a merge schema a component of its own,
/// `<Schema><Member>`, without `null`: progenitor then writes it as a type the
/// three-state member holds (`Option<Option<T>>`).
fn lift_patch_members(
    spec: &mut serde_json::Value,
    merge: &std::collections::BTreeSet<String>,
) -> anyhow::Result<()> {
    for name in merge {
        let members = spec["components"]["schemas"][name]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (prop, member) in members {
            if super::three_state::referenced(&member).is_some() || !super::sdk::needs_name(&member)
            {
                continue;
            }
            let lifted = super::sdk::lifted_name(name, &prop);
            if spec["components"]["schemas"].get(&lifted).is_some() {
                bail!(
                    "/components/schemas/{name}/properties/{}: its type would be named {lifted}, \
                     which another schema is",
                    escape(&prop)
                );
            }
            spec["components"]["schemas"][&lifted] = super::sdk::without_null(&member);
            spec["components"]["schemas"][name]["properties"][&prop] =
                serde_json::json!({ "$ref": format!("#/components/schemas/{lifted}") });
        }
    }
    Ok(())
}

/// The media type progenitor reads `media` as: every JSON media type
/// (`application/json` with parameters, `application/*+json`) as
/// `application/json`, others as they are; the runtime sends the real one.
fn as_sent(media: &str) -> &str {
    let essence = media.split(';').next().unwrap_or_default().trim();
    let json = essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/json")
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json { "application/json" } else { media }
}

/// The spec as progenitor should read it: the JSON-like media types renamed.
pub(crate) fn client_view(spec: &OpenAPI) -> OpenAPI {
    let mut view = spec.clone();
    let rename = |content: &mut indexmap::IndexMap<String, openapiv3::MediaType>| {
        let renamed = std::mem::take(content)
            .into_iter()
            .map(|(name, media)| (as_sent(&name).to_owned(), media))
            .collect();
        *content = renamed;
    };
    for (_, item) in view.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for op in ops.into_iter().flatten() {
            if let Some(ReferenceOr::Item(body)) = &mut op.request_body {
                rename(&mut body.content);
            }
            for response in op.responses.responses.values_mut() {
                if let ReferenceOr::Item(response) = response {
                    rename(&mut response.content);
                }
            }
        }
    }
    if let Some(components) = &mut view.components {
        for schema in components.schemas.values_mut() {
            if let ReferenceOr::Item(schema) = schema {
                open_unnameable_enum(schema);
                drop_member_relations(schema);
            }
        }
        for response in components.responses.values_mut() {
            if let ReferenceOr::Item(response) = response {
                rename(&mut response.content);
            }
        }
        for body in components.request_bodies.values_mut() {
            if let ReferenceOr::Item(body) = body {
                rename(&mut body.content);
            }
        }
    }
    view
}

/// A string enum whose values do not make distinct Rust names
/// (`Etc/GMT+1` and `Etc/GMT-1` are both `EtcGmt1`) makes progenitor panic:
/// the client reads it as a plain string, and the server keeps checking the
/// values.
fn open_unnameable_enum(schema: &mut openapiv3::Schema) {
    use openapiv3::{SchemaKind, StringType, Type};
    let SchemaKind::Type(Type::String(StringType { enumeration, .. })) = &mut schema.schema_kind
    else {
        return;
    };
    let mut names = std::collections::BTreeSet::new();
    let distinct = enumeration.iter().flatten().all(|value| {
        let name: String = value
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(|word| word.to_ascii_lowercase())
            .collect();
        names.insert(name)
    });
    if !distinct {
        enumeration.clear();
    }
}

/// An object whose `allOf` / `anyOf` / `not` relate its members (a state
/// required for some countries, two members that exclude each other) makes
/// typify merge the branches into an enum of near-identical structs. The
/// client reads it as the plain object; the server checks the relations.
fn drop_member_relations(schema: &mut openapiv3::Schema) {
    use openapiv3::{ObjectType, SchemaKind, Type};
    let SchemaKind::Any(any) = &schema.schema_kind else {
        return;
    };
    if any.properties.is_empty() || any.typ.as_deref().is_some_and(|t| t != "object") {
        return;
    }
    schema.schema_kind = SchemaKind::Type(Type::Object(ObjectType {
        properties: any.properties.clone(),
        required: any.required.clone(),
        additional_properties: any.additional_properties.clone(),
        min_properties: any.min_properties,
        max_properties: any.max_properties,
    }));
}

/// Everything in the spec progenitor would panic on, reject or skip silently.
pub(crate) fn preflight(spec: &OpenAPI) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut fatal = |pointer: String, what: String| {
        out.push(Finding {
            pointer,
            what,
            handled: false,
        })
    };
    let mut notes = Vec::new();
    if !spec.openapi.starts_with("3.0.") {
        fatal(
            "/openapi".into(),
            format!("version {} (3.0.x only)", spec.openapi),
        );
    }
    for (path, item) in &spec.paths.paths {
        let base = format!("/paths/{}", escape(path));
        let ReferenceOr::Item(item) = item else {
            fatal(base, "a path item by reference".into());
            continue;
        };
        for (method, op) in item.iter() {
            let at = format!("{base}/{method}");
            if op.operation_id.is_none() {
                fatal(at.clone(), "no operationId".into());
            }
            let params = item.parameters.iter().chain(&op.parameters);
            // The builder's setter of each parameter, by progenitor's name
            // for it: two parameters with one setter do not compile.
            let mut setters: Vec<(String, String, &str)> = Vec::new();
            for (i, param) in params.enumerate() {
                let Some(param) = resolve_param(spec, param) else {
                    fatal(
                        format!("{at}/parameters/{i}"),
                        "unresolvable parameter".into(),
                    );
                    continue;
                };
                let data = param.parameter_data_ref();
                let location = match param {
                    openapiv3::Parameter::Path { .. } => "path",
                    openapiv3::Parameter::Query { .. } => "query",
                    openapiv3::Parameter::Header { .. } => "header",
                    openapiv3::Parameter::Cookie { .. } => "cookie",
                };
                let setter = super::naming::progenitor(&data.name, false);
                match setters.iter().find(|(s, ..)| *s == setter) {
                    // The operation's own parameter of a name and location
                    // replaces the path item's.
                    Some((_, name, loc)) if *name == data.name && *loc == location => {}
                    Some((_, name, _)) => fatal(
                        format!("{at}/parameters/{i}"),
                        format!(
                            "parameters {name} and {} would both be progenitor's setter {setter}",
                            data.name
                        ),
                    ),
                    None => setters.push((setter, data.name.clone(), location)),
                }
                match param {
                    openapiv3::Parameter::Cookie { parameter_data, .. } => fatal(
                        format!("{at}/parameters/{i}"),
                        format!("cookie parameter {}", parameter_data.name),
                    ),
                    openapiv3::Parameter::Query {
                        style,
                        parameter_data,
                        ..
                    } if *style != openapiv3::QueryStyle::Form => fatal(
                        format!("{at}/parameters/{i}"),
                        format!("query parameter {} is not form style", parameter_data.name),
                    ),
                    _ => {}
                }
                let data = param.parameter_data_ref();
                if let openapiv3::ParameterSchemaOrContent::Schema(schema) = &data.format
                    && is_object(spec, schema, 0)
                {
                    // progenitor asserts that only a body is an object.
                    fatal(
                        format!("{at}/parameters/{i}"),
                        format!(
                            "parameter {} is an object, which progenitor takes only as a body",
                            data.name
                        ),
                    );
                }
            }
            request_body_findings(spec, op, &at, &mut fatal);
            response_findings(spec, op, &at, &mut fatal, &mut notes);
        }
    }
    out.extend(notes);
    out
}

/// Whether `schema` (through `$ref`s) is an object typify builds a struct
/// for: members of its own, or an `allOf` of objects.
fn is_object(spec: &OpenAPI, schema: &ReferenceOr<openapiv3::Schema>, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    let schema = match schema {
        ReferenceOr::Item(schema) => schema,
        ReferenceOr::Reference { reference } => {
            let target = reference
                .strip_prefix("#/components/schemas/")
                .and_then(|name| spec.components.as_ref()?.schemas.get(name));
            return target.is_some_and(|target| is_object(spec, target, depth + 1));
        }
    };
    match &schema.schema_kind {
        openapiv3::SchemaKind::Type(openapiv3::Type::Object(object)) => {
            !object.properties.is_empty()
        }
        openapiv3::SchemaKind::AllOf { all_of } => {
            all_of.iter().any(|part| is_object(spec, part, depth + 1))
        }
        openapiv3::SchemaKind::Any(any) => !any.properties.is_empty(),
        _ => false,
    }
}

fn request_body_findings(
    spec: &OpenAPI,
    op: &Operation,
    at: &str,
    fatal: &mut impl FnMut(String, String),
) {
    let Some(body) = &op.request_body else { return };
    let body = match body {
        ReferenceOr::Item(body) => body,
        ReferenceOr::Reference { reference } => {
            match reference
                .strip_prefix("#/components/requestBodies/")
                .and_then(|name| spec.components.as_ref()?.request_bodies.get(name))
            {
                Some(ReferenceOr::Item(body)) => body,
                _ => {
                    fatal(
                        format!("{at}/requestBody"),
                        format!("unresolvable {reference}"),
                    );
                    return;
                }
            }
        }
    };
    // The client view reads JSON aliases as `application/json`: media types
    // that become one (with one schema) are one to progenitor.
    let by_sent: std::collections::BTreeMap<&str, Vec<_>> =
        body.content
            .iter()
            .fold(Default::default(), |mut acc, (media, content)| {
                acc.entry(as_sent(media)).or_default().push(&content.schema);
                acc
            });
    if by_sent.len() > 1 {
        fatal(
            format!("{at}/requestBody/content"),
            format!(
                "{} media types (progenitor panics on more than one)",
                by_sent.len()
            ),
        );
    }
    for (sent, schemas) in &by_sent {
        if schemas.windows(2).any(|w| w[0] != w[1]) {
            fatal(
                format!("{at}/requestBody/content"),
                format!("media types read as {sent} with different schemas"),
            );
        }
    }
    for (media, content) in &body.content {
        if !SENDABLE.contains(&as_sent(media)) {
            fatal(
                format!("{at}/requestBody/content/{}", escape(media)),
                format!("request media type {media} is not one progenitor can send"),
            );
        }
        if content.schema.is_none() {
            fatal(
                format!("{at}/requestBody/content/{}", escape(media)),
                "request body without a schema".into(),
            );
        }
        // progenitor panics on it ("media type encoding not empty"): said
        // here, the search for what it fails on need not find it one
        // operation at a time (Stripe's forms have it on most operations).
        if !content.encoding.is_empty() {
            fatal(
                format!("{at}/requestBody/content/{}/encoding", escape(media)),
                format!(
                    "request media type {media} has an encoding, which progenitor does not take"
                ),
            );
        }
    }
}

fn response_findings(
    spec: &OpenAPI,
    op: &Operation,
    at: &str,
    fatal: &mut impl FnMut(String, String),
    notes: &mut Vec<Finding>,
) {
    use std::collections::BTreeSet;
    let mut success_types = BTreeSet::new();
    let mut error_types = BTreeSet::new();
    for (status, response) in &op.responses.responses {
        let code = match status {
            StatusCode::Code(code) => *code,
            StatusCode::Range(range) => range * 100,
        };
        let here = format!("{at}/responses/{status}");
        let Some(response) = resolve_response(spec, response) else {
            fatal(here, "unresolvable response".into());
            continue;
        };
        let json = response
            .content
            .iter()
            .find(|(media, _)| as_sent(media) == "application/json");
        let typ = match json {
            Some((media, content)) => match &content.schema {
                Some(ReferenceOr::Reference { reference }) => reference.clone(),
                Some(ReferenceOr::Item(_)) => format!("inline schema at {here}"),
                None => {
                    fatal(
                        format!("{here}/content/{}", escape(media)),
                        "a JSON response without a schema (progenitor panics)".into(),
                    );
                    continue;
                }
            },
            None if response.content.is_empty() => "no body".into(),
            None => {
                notes.push(Finding {
                    pointer: format!("{here}/content"),
                    what: "a non-JSON response body, returned as bytes".into(),
                    handled: true,
                });
                "raw body".into()
            }
        };
        match code {
            200..=299 => {
                success_types.insert(typ);
            }
            400..=599 => {
                error_types.insert(typ);
            }
            _ => notes.push(Finding {
                pointer: here.clone(),
                what: if code == 304 {
                    "status 304: the SDK answers `Conditional::NotModified`".to_owned()
                } else {
                    format!("status {status} is neither success nor error to progenitor")
                },
                handled: code == 304,
            }),
        }
        for name in response.headers.keys() {
            notes.push(Finding {
                pointer: format!("{here}/headers/{}", escape(name)),
                what: format!("response header {name}, typed by the SDK's headers struct"),
                handled: true,
            });
        }
    }
    if success_types.len() > 1 {
        fatal(
            format!("{at}/responses"),
            format!(
                "success responses of {} types: {success_types:?}",
                success_types.len()
            ),
        );
    }
    if error_types.len() > 1 {
        fatal(
            format!("{at}/responses"),
            format!(
                "error responses of {} types: {error_types:?}",
                error_types.len()
            ),
        );
    }
}

fn resolve_param<'a>(
    spec: &'a OpenAPI,
    param: &'a ReferenceOr<openapiv3::Parameter>,
) -> Option<&'a openapiv3::Parameter> {
    match param {
        ReferenceOr::Item(param) => Some(param),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            spec.components.as_ref()?.parameters.get(name)?.as_item()
        }
    }
}

fn resolve_response<'a>(
    spec: &'a OpenAPI,
    response: &'a ReferenceOr<Response>,
) -> Option<&'a Response> {
    match response {
        ReferenceOr::Item(response) => Some(response),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            spec.components.as_ref()?.responses.get(name)?.as_item()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// progenitor fails on one operation (typify on an enum whose values
    /// differ only in case): the operation is left out, named with progenitor's message; the
    /// others, and the types they use, are generated.
    /// A member named `build` (as Google's `Deployment` and Jellyfin's
    /// `Version` have) is set with `set_build`: the builder's last step keeps
    /// its name, and the operations stay.
    #[test]
    fn a_member_named_build_is_set_with_set_build() {
        let release = serde_json::json!({ "type": "object", "required": ["name"], "properties": {
            "name": { "type": "string" },
            "build": { "type": "string" }
        } });
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Releases", "version": "1" },
            "paths": { "/releases/{id}": {
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "put": {
                    "operationId": "putRelease",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": {
                        "$ref": "#/components/schemas/Release" } } } },
                    "responses": { "204": { "description": "Put." } }
                },
                "patch": {
                    "operationId": "patchRelease",
                    "requestBody": { "required": true, "content": { "application/merge-patch+json": { "schema": {
                        "$ref": "#/components/schemas/Release" } } } },
                    "responses": { "204": { "description": "Patched." } }
                }
            } },
            "components": { "schemas": { "Release": release } }
        });
        let output = generate(&spec, "client").unwrap();
        assert!(output.refusals.is_empty(), "{:?}", output.refusals);
        assert!(
            output.sdk.contains("pub fn set_build"),
            "a setter of its own"
        );
        assert!(
            output.sdk.contains("pub fn build(self)"),
            "the last step keeps its name"
        );
        assert!(output.sdk.contains("pub fn put_release"));
        assert!(output.sdk.contains("pub fn patch_release"));
    }

    #[test]
    fn a_part_openapiv3_cannot_read_is_left_out_with_what_refers_to_it() {
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Items", "version": "1" },
            "paths": {
                "/items": { "get": { "operationId": "listItems", "responses": { "200": {
                    "description": "Items.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Item" } } }
                } } } },
                "/others": { "get": { "operationId": "listOthers", "responses": { "200": {
                    "description": "Others.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Other" } } }
                } } } }
            },
            "components": { "schemas": {
                // A schema whose `type` is itself a schema: no OpenAPI.
                "Item": { "properties": { "kind": { "type": { "type": "string" } } } },
                "Other": { "type": "object", "properties": { "name": { "type": "string" } } }
            } }
        });
        let output = generate(&spec, "client").unwrap();
        let refused: Vec<&str> = output.refusals.iter().map(|r| r.pointer.as_str()).collect();
        assert!(refused.contains(&"/components/schemas/Item"), "{refused:?}");
        assert!(refused.contains(&"/paths/~1items/get"), "{refused:?}");
        assert!(output.client.contains("pub fn list_others"));
        assert!(!output.client.contains("pub fn list_items"));
    }

    #[test]
    fn the_search_finds_items_failing_alone_and_beside_others_within_its_budget() {
        // 3 fails alone; 6 and 9 each pass alone but not together.
        let attempt = |items: &[u32]| -> Result<Vec<u32>, String> {
            if items.contains(&3) {
                return Err("3 fails".into());
            }
            if items.contains(&6) && items.contains(&9) {
                return Err("6 and 9 clash".into());
            }
            Ok(items.to_vec())
        };
        let items: Vec<u32> = (0..12).collect();
        let (best, failing) = search(items.clone(), 1000, attempt);
        let kept = best.unwrap();
        assert!(!kept.contains(&3), "{kept:?}");
        assert!(!(kept.contains(&6) && kept.contains(&9)), "{kept:?}");
        assert_eq!(kept.len(), 10, "{kept:?}");
        assert_eq!(failing.len(), 2, "{failing:?}");
        assert!(failing.contains(&(3, Some("3 fails".into()))));
        assert!(
            failing
                .iter()
                .any(|(item, m)| *item == 9 && m.as_deref() == Some("6 and 9 clash"))
        );
        // Out of work: what is left is not tried, and nothing is lost.
        let (best, failing) = search(items.clone(), 6, attempt);
        let kept = best.map_or(0, |k| k.len());
        assert_eq!(kept + failing.len(), items.len());
        assert!(failing.iter().any(|(_, m)| m.is_none()));
        // Everything fails: nothing kept.
        let (best, failing) = search(items, 1000, |_: &[u32]| -> Result<(), String> {
            Err("no".into())
        });
        assert!(best.is_none() && failing.len() == 12);
    }

    #[test]
    fn what_progenitor_fails_on_is_left_out_not_the_whole_spec() {
        let object =
            serde_json::json!({ "type": "object", "properties": { "name": { "type": "string" } } });
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "Things", "version": "1" },
            "paths": {
                "/things": {
                    "get": { "operationId": "listThings", "responses": { "200": {
                        "description": "Things.",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } }
                    } } },
                    "post": {
                        "operationId": "addThing",
                        "requestBody": { "required": true, "content": { "application/json": { "schema": {
                            "$ref": "#/components/schemas/Kind"
                        } } } },
                        "responses": { "204": { "description": "Added." } }
                    }
                },
                "/others": { "get": { "operationId": "listOthers", "responses": { "204": { "description": "None." } } } }
            },
            "components": { "schemas": {
                "Thing": object,
                "Kind": { "type": "object", "properties": { "kind": {
                    "type": "string", "enum": ["User", "user"]
                } } }
            } }
        });
        let whole = progenitor_on(&spec, &Default::default(), &Default::default());
        assert!(whole.is_err(), "the fixture no longer fails progenitor");
        let output = generate(&spec, "client").unwrap();
        let refused: Vec<&str> = output.refusals.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(refused, ["/paths/~1things/post"]);
        assert!(
            output.refusals[0].reason.contains("progenitor"),
            "{}",
            output.refusals[0].reason
        );
        assert!(
            output.client.contains("pub fn list_things"),
            "the kept operation"
        );
        assert!(
            output.client.contains("pub fn list_others"),
            "the kept operation"
        );
        assert!(!output.client.contains("pub fn add_thing"));
        assert!(
            output.client.contains("pub struct Thing"),
            "a type a kept operation uses"
        );
    }

    #[test]
    fn a_body_progenitor_cannot_send_is_bytes_to_it() {
        let xml = serde_json::json!({ "schema": { "$ref": "#/components/schemas/Pet" } });
        let mut spec = serde_json::json!({
            "paths": {
                "/xml": { "post": { "requestBody": { "content": { "text/xml": xml, "application/xml": xml } } } },
                "/form": { "post": { "requestBody": { "content": { "multipart/form-data": xml } } } },
                "/json": { "post": { "requestBody": { "content": { "application/json": xml } } } }
            },
            "components": { "requestBodies": { "Sheet": { "content": { "application/vnd.ms-excel": {} } } } }
        });
        bytes_for_other_media(&mut spec);
        let bytes = serde_json::json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } });
        assert_eq!(
            spec["paths"]["/xml"]["post"]["requestBody"]["content"],
            bytes
        );
        assert_eq!(
            spec["components"]["requestBodies"]["Sheet"]["content"],
            bytes
        );
        assert!(
            spec["paths"]["/form"]["post"]["requestBody"]["content"]["multipart/form-data"]
                .is_object()
        );
        assert!(
            spec["paths"]["/json"]["post"]["requestBody"]["content"]["application/json"]
                .is_object()
        );
    }

    #[test]
    fn a_shared_request_body_sends_its_json_and_leaves_the_rest_out() {
        let schema = serde_json::json!({ "$ref": "#/components/schemas/Pet" });
        let mut spec = serde_json::json!({
            "paths": { "/pets": { "post": {
                "requestBody": { "$ref": "#/components/requestBodies/Pet" },
                "responses": { "204": { "description": "" } }
            } } },
            "components": { "requestBodies": { "Pet": { "content": {
                "application/json": { "schema": schema },
                "text/json": { "schema": schema },
                "application/xml": { "schema": schema },
                "text/xml": { "schema": schema }
            } } } }
        });
        let mut refusals = Vec::new();
        choose_request_media(&mut spec, &mut refusals);
        let content = spec["components"]["requestBodies"]["Pet"]["content"]
            .as_object()
            .unwrap();
        let kept: Vec<&str> = content.keys().map(String::as_str).collect();
        assert_eq!(kept, ["application/json", "text/json"]);
        let pointers: Vec<&str> = refusals.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/components/requestBodies/Pet/content/application~1xml",
                "/components/requestBodies/Pet/content/text~1xml"
            ]
        );
    }

    #[test]
    fn every_json_media_type_is_read_as_json_and_an_unstated_one_as_any_json() {
        for media in [
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.api+json",
            "application/merge-patch+json",
            "text/json",
        ] {
            assert_eq!(as_sent(media), "application/json", "{media}");
        }
        for media in ["text/xml", "application/jsonl", "text/plain; charset=utf-8"] {
            assert_eq!(as_sent(media), media);
        }
        let mut spec = serde_json::json!({ "paths": { "/a": { "post": {
            "requestBody": { "content": { "application/json": {} } },
            "responses": { "200": { "description": "A", "content": {
                "application/hal+json": {}, "text/plain": {}
            } } }
        } } } });
        any_json_where_unstated(&mut spec);
        let op = &spec["paths"]["/a"]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"],
            serde_json::json!({})
        );
        let content = &op["responses"]["200"]["content"];
        assert_eq!(
            content["application/hal+json"]["schema"],
            serde_json::json!({})
        );
        assert!(content["text/plain"].get("schema").is_none());
    }

    #[test]
    fn parameters_that_would_share_a_setter_leave_their_operation_out() {
        let param = |name: &str| serde_json::json!({ "name": name, "in": "query", "schema": { "type": "string" } });
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "T", "version": "1" },
            "paths": {
                "/a": { "get": { "operationId": "listA", "parameters": [param("MaxResults"), param("maxResults")],
                    "responses": { "204": { "description": "" } } } },
                "/b": { "get": { "operationId": "listB", "parameters": [param("MaxResults")],
                    "responses": { "204": { "description": "" } } } },
            },
        });
        let output = generate(&spec, "client").unwrap();
        let reasons: Vec<String> = output
            .refusals
            .iter()
            .map(|r| format!("{}: {}", r.pointer, r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                "/paths/~1a/get/parameters/1: parameters MaxResults and maxResults would both be progenitor's setter max_results"
            ]
        );
        assert!(output.client.contains("pub fn list_b"));
        assert!(!output.client.contains("pub fn list_a"));
    }

    #[test]
    fn titles_name_no_type() {
        let spec = serde_json::json!({
            "openapi": "3.0.3",
            "info": { "title": "T", "version": "1" },
            "paths": { "/a": { "get": { "operationId": "getA", "responses": { "200": {
                "description": "",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Contact" } } },
            } } } } },
            "components": { "schemas": {
                "Currency": {
                    "title": "Currency", "type": "string", "nullable": true, "enum": ["USD", "EUR"],
                },
                "PhoneNumber": { "type": "object", "properties": { "digits": { "type": "string" } } },
                "Contact": { "type": "object", "properties": {
                    "currency": { "$ref": "#/components/schemas/Currency" },
                    "phone": { "$ref": "#/components/schemas/PhoneNumber" },
                    "fax": { "title": "Phone Number", "type": "string", "pattern": "^[0-9]+$" },
                } },
            } },
        });
        let client = generate(&spec, "client").unwrap().client;
        // Each once in `types` (typify's `builder` module repeats the
        // structs' names one level deeper).
        for name in ["Currency", "PhoneNumber"] {
            let definitions = client.matches(&format!("\n    pub struct {name}(")).count()
                + client.matches(&format!("\n    pub struct {name} ")).count()
                + client.matches(&format!("\n    pub enum {name} ")).count();
            assert_eq!(definitions, 1, "{name}: {client}");
        }
    }

    #[test]
    fn errors_progenitor_would_stream_are_read_by_the_runtime() {
        let mut spec = serde_json::json!({ "paths": {
            "/text": { "get": { "responses": {
                "200": { "description": "" },
                "404": { "description": "", "content": { "text/plain": {} } },
            } } },
            "/json": { "get": { "responses": {
                "200": { "description": "" },
                "404": { "description": "", "content": { "application/json": { "schema": { "type": "object" } } } },
            } } },
            // Two inline schemas are two types, written alike or not.
            "/two-inline": { "get": { "responses": {
                "200": { "description": "" },
                "400": { "description": "", "content": { "application/json": { "schema": { "type": "string" } } } },
                "500": { "description": "", "content": { "application/json": { "schema": { "type": "string" } } } },
            } } },
            "/one-component": { "get": { "responses": {
                "200": { "description": "" },
                "400": { "description": "", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/E" } } } },
                "500": { "description": "", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/E" } } } },
            } } },
        } });
        errors_read_by_the_runtime(&mut spec);
        assert!(
            spec["paths"]["/text"]["get"]["responses"]
                .get("404")
                .is_none()
        );
        assert!(
            spec["paths"]["/two-inline"]["get"]["responses"]
                .get("400")
                .is_none()
        );
        assert!(
            spec["paths"]["/two-inline"]["get"]["responses"]
                .get("500")
                .is_none()
        );
        assert!(
            spec["paths"]["/one-component"]["get"]["responses"]
                .get("400")
                .is_some()
        );
        assert!(
            spec["paths"]["/json"]["get"]["responses"]
                .get("404")
                .is_some()
        );
    }

    #[test]
    fn a_restricted_spec_keeps_what_its_operations_reach() {
        let spec = serde_json::json!({
            "paths": {
                "/a": { "get": { "responses": { "200": { "$ref": "#/components/responses/A" } } } },
                "/b": { "get": { "responses": { "200": { "description": "B" } } } }
            },
            "components": {
                "responses": { "A": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/A" } } } } },
                "schemas": {
                    "A": { "properties": { "b": { "$ref": "#/components/schemas/B~1C" } } },
                    "B/C": { "type": "string" },
                    "Unused": { "type": "string" }
                },
                "securitySchemes": { "key": { "type": "http", "scheme": "bearer" } }
            }
        });
        let (out, schemas) = restricted(&spec, &[("/a".into(), "get".into())]);
        assert_eq!(schemas.into_iter().collect::<Vec<_>>(), ["A", "B/C"]);
        assert!(out["paths"].get("/b").is_none());
        assert!(out["components"]["schemas"].get("Unused").is_none());
        assert!(out["components"]["responses"].get("A").is_some());
        assert!(out["components"]["securitySchemes"].get("key").is_some());
    }

    #[test]
    fn a_nullable_copy_of_a_component_becomes_that_component_nullable() {
        let value = serde_json::json!({ "anyOf": [{ "type": "string", "maxLength": 3 }, { "type": "number" }] });
        let mut spec = serde_json::json!({ "components": { "schemas": {
            "Value": value,
            "Patch": { "type": "object", "additionalProperties": {
                "x-nullable": true,
                "description": "Sets or clears.",
                "anyOf": [{ "type": "string", "nullable": true, "maxLength": 3 }, { "type": "number" }]
            }},
            "Other": { "type": "object", "additionalProperties": {
                "x-nullable": true,
                "anyOf": [{ "type": "string", "nullable": true, "maxLength": 4 }, { "type": "number" }]
            }}
        }}});
        share_nullable_components(&mut spec);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["Patch"]["additionalProperties"],
            serde_json::json!({
                "nullable": true,
                "allOf": [{ "$ref": "#/components/schemas/Value" }],
                "description": "Sets or clears."
            })
        );
        assert_eq!(
            schemas["Value"], value,
            "the component itself is left alone"
        );
        assert!(
            schemas["Other"]["additionalProperties"]
                .get("anyOf")
                .is_some(),
            "another bound is another type"
        );
    }

    fn spec() -> OpenAPI {
        crate::spec::load(&crate::spec::project_root().join(crate::spec::SPEC_PATH)).unwrap()
    }

    /// A code sample per operation of the fixture API: the SDK call with its
    /// positional arguments (an entity tag by reference), and curl.
    #[test]
    fn every_operation_has_a_rust_and_a_curl_sample() {
        let fixture = crate::codegen::server::tests::fixture();
        let output = generate(&fixture, "client").unwrap();
        let ids: Vec<&str> = output
            .samples
            .iter()
            .map(|s| s.operation_id.as_str())
            .collect();
        for id in ["listWidgets", "createWidget", "updateWidget", "listColours"] {
            assert!(ids.contains(&id), "{id}: {ids:?}");
        }
        let update = output
            .samples
            .iter()
            .find(|s| s.operation_id == "updateWidget")
            .unwrap();
        assert!(
            update.rust.contains(".update_widget(\"") && update.rust.contains(", &etag, body)"),
            "{}",
            update.rust
        );
        assert!(update.rust_doctest.contains("# async fn sample()"));
        assert!(!update.rust.contains("# "), "{}", update.rust);
        assert!(
            update.curl.starts_with("curl -X PATCH ") && update.curl.contains("If-Match: \"7\""),
            "{}",
            update.curl
        );
        let samples = crate::codegen::sdk::samples_module(&output.samples);
        assert_eq!(samples.matches("```no_run").count(), output.samples.len());
    }

    #[test]
    fn the_spec_has_no_unhandled_findings() {
        // As progenitor is given it: the image upload's three media types
        // are one body of bytes.
        let mut source =
            crate::spec::load_value(&crate::spec::project_root().join(crate::spec::SPEC_PATH))
                .unwrap();
        bytes_for_other_media(&mut source);
        let spec: OpenAPI = serde_json::from_value(source).unwrap();
        let unhandled: Vec<_> = preflight(&spec)
            .into_iter()
            .filter(|f| !f.handled)
            .collect();
        assert!(unhandled.is_empty(), "{unhandled:#?}");
    }

    #[test]
    fn a_body_with_an_encoding_is_named_before_progenitor_panics_on_it() {
        let mut source = crate::codegen::server::tests::fixture();
        source["paths"]["/widgets"]["post"]["requestBody"]["content"]["application/json"]["encoding"] =
            serde_json::json!({ "label": { "contentType": "text/plain" } });
        let output = generate(&source, "client").unwrap();
        let refused: Vec<(&str, &str)> = output
            .refusals
            .iter()
            .map(|r| (r.pointer.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(
            refused,
            [(
                "/paths/~1widgets/post/requestBody/content/application~1json/encoding",
                "request media type application/json has an encoding, which progenitor does not take"
            )]
        );
        assert!(!output.client.contains("pub fn create_widget("));
        assert!(output.client.contains("pub fn list_widgets("));
    }

    #[test]
    fn preflight_names_the_location_of_what_progenitor_cannot_take() {
        // A second request media type, and an XML error body beside an
        // error without one.
        let mut source = crate::codegen::server::tests::fixture();
        let patch = &mut source["paths"]["/widgets/{widgetId}"]["patch"];
        patch["requestBody"]["content"]["application/xml"] =
            serde_json::json!({ "schema": { "type": "object" } });
        let bad_request = &mut source["components"]["responses"]["BadRequest"]["content"];
        let problem = bad_request["application/problem+json"].take();
        *bad_request = serde_json::json!({ "application/problem+xml": problem });
        let spec: OpenAPI = serde_json::from_value(source.clone()).unwrap();
        let findings: Vec<_> = preflight(&spec)
            .into_iter()
            .filter(|f| !f.handled)
            .collect();
        let pointers: Vec<&str> = findings.iter().map(|f| f.pointer.as_str()).collect();
        for pointer in [
            "/paths/~1widgets~1{widgetId}/patch/requestBody/content",
            "/paths/~1widgets~1{widgetId}/patch/requestBody/content/application~1xml",
            "/paths/~1widgets~1{widgetId}/patch/responses",
        ] {
            assert!(pointers.contains(&pointer), "{pointer}: {findings:#?}");
        }
        // Generation leaves out the XML body; the errors of several types
        // are read by the runtime (progenitor's view documents none) and
        // typed by the SDK, status by status.
        let Output {
            client,
            sdk,
            refusals,
            ..
        } = generate(&source, "client").unwrap();
        let refused: Vec<&str> = refusals.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(
            refused,
            ["/paths/~1widgets~1{widgetId}/patch/requestBody/content/application~1xml"],
            "{refusals:#?}"
        );
        assert!(client.contains("pub fn list_colours("));
        assert!(client.contains("pub fn create_widget("));
        assert!(client.contains("pub fn update_widget("));
        assert!(sdk.contains("pub fn update_widget("));
        assert!(
            sdk.contains("pub enum UpdateWidget"),
            "its documented errors"
        );
    }

    /// A body on 200 and none on 204: progenitor's view reads both as bytes
    /// and the SDK answers a typed enum, by status.
    #[test]
    fn several_success_types_become_an_enum() {
        let mut source = crate::codegen::server::tests::fixture();
        source["paths"]["/colours"]["get"]["responses"]["204"] =
            serde_json::json!({ "description": "No colours yet.", "content": { "*/*": {} } });
        let Output {
            client,
            sdk,
            refusals,
            ..
        } = generate(&source, "client").unwrap();
        assert!(refusals.is_empty(), "{refusals:#?}");
        assert!(
            client.contains("ResponseValue<ByteStream>"),
            "progenitor hands bytes over"
        );
        for expected in [
            "pub enum ListColours {",
            "Ok(types::ColourList),",
            "NoContent,",
            "rt::respond_by_status(",
            "crate::sdk::answers::ListColours::Ok(\n                                            rt::json(status, bytes)?,",
        ] {
            assert!(sdk.contains(expected), "{expected}");
        }
    }

    #[test]
    fn the_client_view_reads_json_bodies_as_json() {
        let view = client_view(&spec());
        let mut media_types = std::collections::BTreeSet::new();
        for (_, item) in &view.paths.paths {
            for (_, op) in item.as_item().unwrap().iter() {
                if let Some(ReferenceOr::Item(body)) = &op.request_body {
                    media_types.extend(body.content.keys().cloned());
                }
                for response in op.responses.responses.values() {
                    if let Some(response) = resolve_response(&view, response) {
                        media_types.extend(response.content.keys().cloned());
                    }
                }
            }
        }
        // Every JSON alias is read as `application/json`; the profile
        // image's types stay bytes.
        let expected: std::collections::BTreeSet<String> =
            ["application/json", "image/jpeg", "image/png", "image/webp"]
                .map(str::to_owned)
                .into();
        assert_eq!(media_types, expected);
        // The source spec is untouched.
        let source = spec();
        let item = source.paths.paths["/v1/users/{userId}"].as_item().unwrap();
        let body = item.patch.as_ref().unwrap().request_body.as_ref().unwrap();
        assert!(
            body.as_item()
                .unwrap()
                .content
                .contains_key("application/merge-patch+json")
        );
    }
}
