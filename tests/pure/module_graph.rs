//! The crate's module graph, checked (issue 12): no import cycle between modules that are not
//! parent and child of each other, and no module referring to one on a higher floor of the
//! layer table ([`FLOORS`]).
//!
//! The graph is built from the source with `syn`: the modules are found by following `mod`
//! declarations from `src/lib.rs` (with `#[path]`), and a module refers to another when one of
//! its `use` items or paths (in types, expressions, patterns, and the token streams of macro
//! calls) names it through `crate::`, `super::`, `self::` or a child module's name. Code under
//! `#[cfg(test)]` is left out: unit tests may use anything. A path names the deepest module it
//! goes through (`crate::vrrp::engine::Control` names `vrrp::engine`).
//!
//! Known debts would be listed in [`KNOWN_CYCLE_EDGES`] and [`KNOWN_UPWARD_EDGES`] (both empty
//! now); an edge listed there that no longer exists fails the check too, so a list only shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The layers, lowest first. A module's floor is that of its longest prefix listed here; it
/// may refer only to modules on its own floor or below (and to its ancestors and descendants).
const FLOORS: &[(&str, u8)] = &[
    // 0: leaves, importing nothing of the crate (or only each other).
    ("units", 0),
    ("timing", 0),
    ("cli", 0),
    ("data_file", 0),
    // 1: codecs, the configuration language, the state machine.
    ("wire", 1),
    ("config", 1),
    ("vrrp::fsm", 1),
    // 2: the kernel and process edges.
    ("net", 2),
    ("script", 2),
    ("mail", 2),
    ("notify", 2),
    ("track_file", 2),
    ("systemd", 2),
    ("resident", 2),
    // 3: the subsystems.
    ("vrrp", 3),
    ("check", 3),
    ("ipvs", 3),
    // 4: what owns the subsystems' IO and publishes their state.
    ("vrrp::engine", 4),
    ("metrics", 4),
    // 5: the process.
    ("daemon", 5),
    ("supervisor", 5),
];

/// Known edges of import cycles (`from -> to`) being paid off; empty since issue 12 landed.
/// May only shrink: a debt added here needs a reason in review.
const KNOWN_CYCLE_EDGES: &[(&str, &str)] = &[];

/// Known edges to a higher floor (`from -> to`); empty since issue 12 landed. May only shrink.
const KNOWN_UPWARD_EDGES: &[(&str, &str)] = &[];

/// A module path without `crate` (`vrrp::engine`); the crate root is the empty string.
type Module = String;

/// Module -> the modules it refers to (never itself).
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeSet<Module>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

/// `a` is `b`'s ancestor or descendant (the crate root is everyone's ancestor).
fn related(a: &str, b: &str) -> bool {
    let within = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with("::"))
    };
    within(a, b) || within(b, a)
}

fn segments(m: &str) -> Vec<String> {
    if m.is_empty() {
        Vec::new()
    } else {
        m.split("::").map(str::to_owned).collect()
    }
}

impl Graph {
    /// Builds the graph of `sources` (module -> its file's text), whose module set is its keys.
    fn build(sources: &BTreeMap<Module, String>) -> Result<Graph, String> {
        let mut g = Graph {
            modules: sources.keys().cloned().collect(),
            ..Graph::default()
        };
        for (module, text) in sources {
            let file = syn::parse_file(text).map_err(|e| format!("{module}: {e}"))?;
            let mut refs = Refs {
                modules: &g.modules,
                scope: segments(module),
                found: BTreeSet::new(),
            };
            refs.visit_file(&file);
            let mut to: BTreeSet<Module> = refs.found;
            to.remove(module);
            to.remove("");
            g.edges.insert(module.clone(), to);
        }
        Ok(g)
    }

    fn edge_list(&self) -> Vec<(Module, Module)> {
        self.edges
            .iter()
            .flat_map(|(a, bs)| bs.iter().map(move |b| (a.clone(), b.clone())))
            .collect()
    }

    /// Import cycles, each as the edges that make it: the strongly connected components of
    /// more than one module over the edges between modules that are not ancestor and
    /// descendant of each other (a parent and its own child may refer to each other, and an
    /// edge between them does not close a cycle).
    fn cycles(&self) -> Vec<Vec<(Module, Module)>> {
        let edges: Vec<(Module, Module)> = self
            .edge_list()
            .into_iter()
            .filter(|(a, b)| !related(a, b))
            .collect();
        let nodes: Vec<&Module> = self.modules.iter().collect();
        let index: BTreeMap<&Module, usize> =
            nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
        let mut adj = vec![Vec::new(); nodes.len()];
        for (a, b) in &edges {
            adj[index[a]].push(index[b]);
        }
        let comp = tarjan(&adj);
        let mut size: BTreeMap<usize, usize> = BTreeMap::new();
        for c in &comp {
            *size.entry(*c).or_default() += 1;
        }
        let mut cycles: BTreeMap<usize, Vec<(Module, Module)>> = BTreeMap::new();
        for (a, b) in &edges {
            let (ca, cb) = (comp[index[a]], comp[index[b]]);
            if ca == cb && size[&ca] > 1 {
                cycles.entry(ca).or_default().push((a.clone(), b.clone()));
            }
        }
        cycles.into_values().collect()
    }

    /// Edges from a module to one on a higher floor (ancestor/descendant pairs excepted), and
    /// the modules `floors` places nowhere.
    fn upward(&self, floors: &[(&str, u8)]) -> (Vec<(Module, Module)>, Vec<Module>) {
        let floor = |m: &str| {
            floors
                .iter()
                .filter(|(p, _)| m == *p || m.strip_prefix(p).is_some_and(|r| r.starts_with("::")))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, f)| *f)
        };
        let unplaced = self
            .modules
            .iter()
            .filter(|m| !m.is_empty() && floor(m).is_none())
            .cloned()
            .collect();
        let up = self
            .edge_list()
            .into_iter()
            .filter(|(a, b)| !related(a, b))
            .filter(|(a, b)| matches!((floor(a), floor(b)), (Some(fa), Some(fb)) if fb > fa))
            .collect();
        (up, unplaced)
    }
}

/// Tarjan's strongly connected components: the component number of each vertex.
fn tarjan(adj: &[Vec<usize>]) -> Vec<usize> {
    struct State<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        comp: Vec<usize>,
        comps: usize,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.adj[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                s.comp[w] = s.comps;
                if w == v {
                    break;
                }
            }
            s.comps += 1;
        }
    }
    let n = adj.len();
    let mut s = State {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        comp: vec![0; n],
        comps: 0,
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.comp
}

/// Collects the modules the paths of one file name.
struct Refs<'a> {
    modules: &'a BTreeSet<Module>,
    /// The module path of the code being visited (the file's module, then inline modules).
    scope: Vec<String>,
    found: BTreeSet<Module>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl Refs<'_> {
    /// Records the module a path of identifiers names, if it is one of the crate's.
    fn record(&mut self, path: &[String]) {
        let Some(first) = path.first() else { return };
        let mut abs: Vec<String> = match first.as_str() {
            "crate" => path[1..].to_vec(),
            "self" => [&self.scope[..], &path[1..]].concat(),
            "super" => {
                let ups = path.iter().take_while(|s| *s == "super").count();
                let keep = self.scope.len().saturating_sub(ups);
                [&self.scope[..keep], &path[ups..]].concat()
            }
            _ => {
                // A child module named without `self::` (2018 paths).
                let mut child = self.scope.clone();
                child.push(first.clone());
                if !self.modules.contains(&child.join("::")) {
                    return;
                }
                [&self.scope[..], path].concat()
            }
        };
        while !abs.is_empty() {
            let m = abs.join("::");
            if self.modules.contains(&m) {
                self.found.insert(m);
                return;
            }
            abs.pop();
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    self.record(prefix);
                } else {
                    prefix.push(name);
                    self.record(prefix);
                    prefix.pop();
                }
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    /// Paths in a macro call's tokens: `crate`/`self`/`super` followed by `::` segments.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut path: Vec<String> = Vec::new();
        let mut colons = 0;
        let flush = |refs: &mut Self, path: &mut Vec<String>| {
            if path.len() > 1 {
                refs.record(path);
            }
            path.clear();
        };
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Ident(i) => {
                    let s = i.to_string();
                    if !path.is_empty() && colons == 2 {
                        path.push(s);
                    } else {
                        flush(self, &mut path);
                        if matches!(s.as_str(), "crate" | "self" | "super") {
                            path.push(s);
                        }
                    }
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' && !path.is_empty() => {
                    colons += 1;
                }
                proc_macro2::TokenTree::Group(g) => {
                    flush(self, &mut path);
                    colons = 0;
                    self.tokens(g.stream());
                }
                _ => {
                    flush(self, &mut path);
                    colons = 0;
                }
            }
        }
        flush(self, &mut path);
    }
}

impl<'ast> Visit<'ast> for Refs<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // `mod x;` declares a child (a node of its own); `mod x { ... }` is part of this file.
        if m.content.is_some() {
            self.scope.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segs);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone());
    }
}

/// The crate's modules and their files' texts, found from `src/lib.rs` by its `mod` items.
fn crate_sources(root: &Path) -> Result<BTreeMap<Module, String>, String> {
    fn walk(
        module: Module,
        file: PathBuf,
        out: &mut BTreeMap<Module, String>,
    ) -> Result<(), String> {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let dir = file.parent().expect("a file has a directory").to_path_buf();
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        // Children of lib.rs and mod.rs are beside them; those of x.rs are in x/.
        let child_dir = if stem == "lib" || stem == "mod" {
            dir.clone()
        } else {
            dir.join(stem)
        };
        out.insert(module.clone(), text);
        for item in parsed.items {
            let syn::Item::Mod(m) = item else { continue };
            if m.content.is_some() || is_cfg_test(&m.attrs) {
                continue;
            }
            let name = m.ident.to_string();
            let path_attr = m.attrs.iter().find_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            });
            let child_file = match path_attr {
                Some(p) => dir.join(p),
                None if child_dir.join(format!("{name}.rs")).exists() => {
                    child_dir.join(format!("{name}.rs"))
                }
                None => child_dir.join(&name).join("mod.rs"),
            };
            let child = if module.is_empty() {
                name
            } else {
                format!("{module}::{name}")
            };
            walk(child, child_file, out)?;
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(String::new(), root.join("src/lib.rs"), &mut out)?;
    Ok(out)
}

/// Problems of `graph` against the floors and the known-edge lists (empty: the check passes).
fn problems(
    graph: &Graph,
    floors: &[(&str, u8)],
    known_cycle: &[(&str, &str)],
    known_upward: &[(&str, &str)],
) -> Vec<String> {
    let mut out = Vec::new();
    let owned = |l: &[(&str, &str)]| -> BTreeSet<(Module, Module)> {
        l.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let (known_cycle, known_upward) = (owned(known_cycle), owned(known_upward));
    let cycle_edges: BTreeSet<(Module, Module)> = graph.cycles().into_iter().flatten().collect();
    for (a, b) in cycle_edges.difference(&known_cycle) {
        out.push(format!("import cycle edge: {a} -> {b}"));
    }
    for (a, b) in known_cycle.difference(&cycle_edges) {
        out.push(format!(
            "KNOWN_CYCLE_EDGES lists {a} -> {b}, which is no longer in a cycle: remove it"
        ));
    }
    let (up, unplaced) = graph.upward(floors);
    let up: BTreeSet<(Module, Module)> = up.into_iter().collect();
    for (a, b) in up.difference(&known_upward) {
        out.push(format!("upward edge (to a higher floor): {a} -> {b}"));
    }
    for (a, b) in known_upward.difference(&up) {
        out.push(format!(
            "KNOWN_UPWARD_EDGES lists {a} -> {b}, which no longer exists: remove it"
        ));
    }
    for m in unplaced {
        out.push(format!("module {m} has no floor in FLOORS"));
    }
    for (m, _) in floors {
        if !graph.modules.contains(*m) {
            out.push(format!("FLOORS places {m}, which is not a module"));
        }
    }
    out
}

#[test]
fn the_crate_has_no_import_cycle_and_no_upward_edge() {
    let sources = crate_sources(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let graph = Graph::build(&sources).unwrap();
    let edges = graph.edge_list();
    println!(
        "module graph: {} modules, {} edges",
        graph.modules.len(),
        edges.len()
    );
    for (a, bs) in &graph.edges {
        let name = if a.is_empty() { "crate" } else { a };
        println!(
            "  {name} -> {}",
            bs.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let cycles = graph.cycles();
    println!("import cycles: {}", cycles.len());
    for c in &cycles {
        let list: Vec<String> = c.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
        println!("  {}", list.join("; "));
    }
    let (up, _) = graph.upward(FLOORS);
    println!("upward edges: {}", up.len());
    for (a, b) in &up {
        println!("  {a} -> {b}");
    }
    let problems = problems(&graph, FLOORS, KNOWN_CYCLE_EDGES, KNOWN_UPWARD_EDGES);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A graph from `(module, source)` pairs.
fn fixture(files: &[(&str, &str)]) -> Graph {
    let sources = files
        .iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect();
    Graph::build(&sources).unwrap()
}

fn pairs(l: &[(&str, &str)]) -> Vec<(Module, Module)> {
    l.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn fixture_paths_of_every_kind_are_edges() {
    let g = fixture(&[
        ("", "pub mod a; pub mod b; pub mod c; pub mod d; pub mod e;"),
        (
            "a",
            "pub mod inner; use crate::b::{self, Thing as T}; fn f() { inner::g(); }",
        ),
        ("a::inner", "pub fn g() { super::super::c::h(); }"),
        ("b", "pub struct Thing; fn f() -> crate::d::D { todo!() }"),
        ("c", "pub fn h() { tracing::info!(\"{}\", crate::e::E); }"),
        (
            "d",
            "pub struct D; #[cfg(test)] mod tests { use crate::a::*; }",
        ),
        ("e", "pub struct E;"),
    ]);
    assert_eq!(
        g.edge_list(),
        pairs(&[
            ("a", "a::inner"),
            ("a", "b"),
            ("a::inner", "c"),
            ("b", "d"),
            ("c", "e")
        ])
    );
}

#[test]
fn fixture_cycle_is_found_and_parent_child_is_allowed() {
    let g = fixture(&[
        ("", "pub mod p; pub mod q; pub mod r;"),
        (
            "p",
            "pub mod kid; pub mod other; use kid::K; use other::O; pub struct P;",
        ),
        ("p::kid", "pub struct K; use super::P; use crate::q::Q;"),
        ("p::other", "pub struct O; use super::P;"),
        ("q", "pub struct Q; fn f(_: crate::r::R) {}"),
        ("r", "pub struct R; fn f(_: crate::p::kid::K) {}"),
    ]);
    // p <-> p::kid and p <-> p::other are parent and child: no cycle, and p::kid and
    // p::other, both referring to their parent, are not in one either; p::kid -> q -> r ->
    // p::kid is one.
    let cycles = g.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(
        cycles[0],
        pairs(&[("p::kid", "q"), ("q", "r"), ("r", "p::kid")])
    );
    let floors = [("p", 1), ("q", 1), ("r", 1)];
    let found = problems(&g, &floors, &[], &[]);
    assert_eq!(
        found,
        [
            "import cycle edge: p::kid -> q",
            "import cycle edge: q -> r",
            "import cycle edge: r -> p::kid"
        ],
    );
    // Listed as known: accepted; a known edge that is gone is reported.
    let known = [("p::kid", "q"), ("q", "r"), ("r", "p::kid")];
    assert!(problems(&g, &floors, &known, &[]).is_empty());
    let stale = problems(
        &g,
        &floors,
        &[known[0], known[1], known[2], ("q", "p")],
        &[],
    );
    assert_eq!(
        stale,
        ["KNOWN_CYCLE_EDGES lists q -> p, which is no longer in a cycle: remove it"]
    );
}

#[test]
fn fixture_upward_edge_and_unplaced_module_are_caught() {
    let g = fixture(&[
        ("", "pub mod low; pub mod high; pub mod mid; pub mod lost;"),
        ("low", "pub mod deep; use crate::high::H;"),
        ("low::deep", "pub fn f() {}"),
        ("high", "pub struct H;"),
        ("mid", "use crate::low::deep::f;"),
        ("lost", ""),
    ]);
    // low::deep is above its parent: mid, on the floor between, may not use it.
    let floors = [
        ("low", 0),
        ("low::deep", 2),
        ("mid", 1),
        ("high", 1),
        ("gone", 1),
    ];
    assert_eq!(
        problems(&g, &floors, &[], &[]),
        [
            "upward edge (to a higher floor): low -> high",
            "upward edge (to a higher floor): mid -> low::deep",
            "module lost has no floor in FLOORS",
            "FLOORS places gone, which is not a module",
        ]
    );
    assert_eq!(
        problems(
            &g,
            &floors,
            &[],
            &[("low", "high"), ("mid", "low::deep"), ("lost", "low")]
        ),
        [
            "KNOWN_UPWARD_EDGES lists lost -> low, which no longer exists: remove it",
            "module lost has no floor in FLOORS",
            "FLOORS places gone, which is not a module",
        ]
    );
}
