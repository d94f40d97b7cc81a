//! What is checked across flows (by `runner validate` and the flows pages of `runner ui`):
//! every Subflow and ForEachItem with a static `namespace` and `flowId` names a known flow,
//! passes inputs it declares and the required ones, and no flows call each other in a circle.

use runner_model::{Diagnostic, Node, Problem, Span};
use std::collections::{BTreeMap, BTreeSet};

/// One call of a flow, as written.
pub struct Call {
    task_id: String,
    namespace: String,
    flow_id: String,
    /// The flowId's place, where problems point.
    span: Span,
    /// The inputs given (none when they are one expression), with their places.
    inputs: Option<Vec<(String, Span)>>,
}

impl Call {
    /// `namespace.flowId` of the flow called.
    pub fn target(&self) -> String {
        format!("{}.{}", self.namespace, self.flow_id)
    }
}

/// A flow's declared inputs: id and whether it must be given.
pub type Declared = Vec<(String, bool)>;

/// The calls in a flow document, with static targets only.
pub fn calls(doc: &Node, registry: &crate::Registry) -> Vec<Call> {
    let mut out = Vec::new();
    visit(doc, registry, &mut out);
    out
}

fn visit(node: &Node, registry: &crate::Registry, out: &mut Vec<Call>) {
    if let Some(seq) = node.as_seq() {
        seq.iter().for_each(|n| visit(n, registry, out));
        return;
    }
    let Some(map) = node.as_map() else { return };
    let is_call = node
        .get("type")
        .and_then(Node::as_str)
        .is_some_and(|t| registry.calls_flow(t));
    let text = |key: &str| {
        node.get(key)
            .and_then(Node::as_str)
            .filter(|s| !s.contains("{{"))
    };
    if is_call
        && let (Some(ns), Some(id), Some(task_id)) = (text("namespace"), text("flowId"), text("id"))
    {
        let inputs = match node.get("inputs") {
            None => Some(Vec::new()),
            Some(i) => i.as_map().map(|m| {
                m.iter()
                    .map(|(k, _)| (k.name.clone(), k.span))
                    .collect::<Vec<_>>()
            }),
        };
        out.push(Call {
            task_id: task_id.to_string(),
            namespace: ns.to_string(),
            flow_id: id.to_string(),
            span: node.get("flowId").map_or(node.span, |n| n.span),
            inputs,
        });
    }
    for (_, child) in map {
        visit(child, registry, out);
    }
}

/// The inputs a flow document declares.
pub fn declared(doc: &Node) -> Declared {
    doc.get("inputs")
        .and_then(Node::as_seq)
        .map(|inputs| {
            inputs
                .iter()
                .filter_map(|i| {
                    let id = i.get("id").and_then(Node::as_str)?;
                    let required = !matches!(
                        i.get("required").map(|r| &r.value),
                        Some(runner_model::NodeValue::Bool(false))
                    ) && i.get("defaults").is_none_or(Node::is_null);
                    Some((id.to_string(), required))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Problems of `calls` (by calling flow) against the `known` flows; cycles are reported on
/// the first flow of each.
pub fn check(
    calls: &BTreeMap<String, Vec<Call>>,
    known: &BTreeMap<String, Declared>,
) -> BTreeMap<String, Vec<Diagnostic>> {
    let mut out: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    for (caller, list) in calls {
        for call in list {
            let target = call.target();
            let path = format!("tasks.{}", call.task_id);
            let Some(inputs) = known.get(&target) else {
                out.entry(caller.clone())
                    .or_default()
                    .push(Diagnostic::warning(
                        Problem::SubflowMissing {
                            namespace: call.namespace.clone(),
                            flow_id: call.flow_id.clone(),
                        },
                        call.span,
                        path,
                    ));
                continue;
            };
            let Some(given) = &call.inputs else { continue };
            for (name, span) in given {
                if !inputs.iter().any(|(id, _)| id == name) {
                    out.entry(caller.clone())
                        .or_default()
                        .push(Diagnostic::warning(
                            Problem::SubflowUndeclaredInput {
                                input: name.clone(),
                                flow: target.clone(),
                            },
                            *span,
                            path.clone(),
                        ));
                }
            }
            for (id, required) in inputs {
                if *required && !given.iter().any(|(name, _)| name == id) {
                    out.entry(caller.clone())
                        .or_default()
                        .push(Diagnostic::error(
                            Problem::SubflowMissingInput {
                                input: id.clone(),
                                flow: target.clone(),
                            },
                            call.span,
                            path.clone(),
                        ));
                }
            }
        }
    }
    // A flow calling itself is refused by validation already.
    for chain in cycles(calls).into_iter().filter(|c| c.len() > 2) {
        out.entry(chain[0].clone())
            .or_default()
            .push(Diagnostic::warning(
                Problem::SubflowCycle { chain },
                None,
                "",
            ));
    }
    out
}

/// One cycle per group of flows that call each other (a strongly connected component, found
/// in linear time: a hostile folder of flows all calling each other stays cheap), starting at
/// the group's smallest flow.
fn cycles(calls: &BTreeMap<String, Vec<Call>>) -> Vec<Vec<String>> {
    let mut names: BTreeSet<String> = calls.keys().cloned().collect();
    for list in calls.values() {
        names.extend(
            list.iter()
                .map(|c| format!("{}.{}", c.namespace, c.flow_id)),
        );
    }
    let names: Vec<String> = names.into_iter().collect();
    let index = |n: &str| names.binary_search_by(|x| x.as_str().cmp(n)).ok();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            let mut to: Vec<usize> = calls
                .get(n)
                .into_iter()
                .flatten()
                .filter_map(|c| index(&format!("{}.{}", c.namespace, c.flow_id)))
                .collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    let components = strongly_connected(&edges);
    let mut out = Vec::new();
    for comp in components {
        let start = *comp.iter().min().expect("a component has a member");
        let looped = comp.len() > 1 || edges[start].contains(&start);
        if !looped {
            continue;
        }
        // The shortest way back to `start` inside the component (breadth first).
        let inside: BTreeSet<usize> = comp.iter().copied().collect();
        let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(at) = queue.pop_front() {
            for &next in &edges[at] {
                if next == start {
                    last = Some(at);
                    break 'search;
                }
                if inside.contains(&next) && !came_from.contains_key(&next) {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        let Some(mut at) = last else { continue };
        let mut between = Vec::new();
        while at != start {
            between.push(names[at].clone());
            at = came_from[&at];
        }
        between.reverse();
        let mut chain = vec![names[start].clone()];
        chain.extend(between);
        chain.push(names[start].clone());
        out.push(chain);
    }
    out.sort();
    out
}

/// Tarjan's algorithm, without recursion.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let (mut index, mut low, mut on_stack) = (vec![UNSEEN; n], vec![0; n], vec![false; n]);
    let (mut next, mut stack, mut out) = (0, Vec::new(), Vec::new());
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some((v, edge)) = work.pop() {
            if edge == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(edge) {
                work.push((v, edge + 1));
                if index[w] == UNSEEN {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, Vec<Call>> {
        let mut calls: BTreeMap<String, Vec<Call>> = BTreeMap::new();
        for (from, to) in edges {
            let (ns, id) = to.rsplit_once('.').unwrap();
            calls.entry(from.to_string()).or_default().push(Call {
                task_id: "t".into(),
                namespace: ns.into(),
                flow_id: id.into(),
                span: Span::new(1, 1, 1),
                inputs: None,
            });
        }
        calls
    }

    #[test]
    fn each_cycle_is_reported_once_from_its_smallest_flow() {
        let calls = graph(&[
            ("n.a", "n.b"),
            ("n.b", "n.c"),
            ("n.c", "n.a"),
            ("n.d", "n.d"),
            ("n.e", "n.a"),
        ]);
        assert_eq!(
            cycles(&calls),
            vec![
                vec!["n.a".to_string(), "n.b".into(), "n.c".into(), "n.a".into()],
                vec!["n.d".to_string(), "n.d".into()],
            ]
        );
        assert!(cycles(&graph(&[("n.a", "n.b"), ("n.b", "n.c")])).is_empty());
    }

    #[test]
    fn a_dense_graph_stays_cheap() {
        let names: Vec<String> = (0..300).map(|i| format!("n.f{i}")).collect();
        let mut edges = Vec::new();
        for a in &names {
            for b in &names {
                edges.push((a.as_str(), b.as_str()));
            }
        }
        let found = cycles(&graph(&edges));
        assert_eq!(found.len(), 1);
    }
}
