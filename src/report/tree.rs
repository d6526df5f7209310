//! The search tree: how the search narrowed the start policy. Nodes are trials (plus a root
//! for the start policy); each trial hangs under the passing trial whose kept set it refined,
//! i.e. the smallest candidate of an earlier round that passed and contains it. Failing trials
//! are leaves: their removal was not adopted. Built as a petgraph graph, written as DOT
//! (`search.dot`) and laid out here (a layered tidy layout: leaves left to right, a parent
//! centred over its children) for `report.json`, whose readers may draw the tree themselves
//! without a layout engine. The HTML draws it by round instead (`svg::tree`): a tidy layout of
//! a long run is hundreds of leaf slots wide.

use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::oracle::Verdict;
use crate::prune::journal::{Purpose, TrialRecord};
use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::fmt;

/// One node of the search tree.
#[derive(Debug, Clone, Serialize)]
pub struct TreeNode {
    /// Trial number; 0 is the start policy.
    pub trial: u64,
    /// Candidate size.
    pub size: usize,
    /// `Pass` or `Fail` (the start policy counts as a pass).
    pub verdict: Verdict,
    /// Why the trial ran (`start` for the root).
    pub purpose: String,
    /// Round (0 for the root).
    pub round: u64,
    /// Depth in the tree (root 0).
    pub depth: usize,
    /// Horizontal position in leaf slots (a parent sits at the mean of its children).
    pub x: f64,
}

/// An edge: `child` refined the kept set of `parent`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TreeEdge {
    /// Parent trial (0: the start policy).
    pub parent: u64,
    /// Child trial.
    pub child: u64,
}

/// The laid-out search tree.
#[derive(Debug, Clone, Serialize)]
pub struct SearchTree {
    /// Nodes, root first, then by trial number.
    pub nodes: Vec<TreeNode>,
    /// Edges.
    pub edges: Vec<TreeEdge>,
    /// Depth of the deepest node.
    pub depth: usize,
    /// Number of leaf slots (the layout's width).
    pub width: usize,
}

impl fmt::Display for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.trial == 0 {
            write!(f, "start\n{} actions", self.size)
        } else {
            let v = if self.verdict == Verdict::Pass { "pass" } else { "fail" };
            write!(f, "#{} {}\n{} actions, {v}", self.trial, self.purpose, self.size)
        }
    }
}

/// The edge weight: the child refined the parent's kept set.
#[derive(Debug, Clone, Copy)]
pub struct Refines;

impl fmt::Display for Refines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refines")
    }
}

/// Builds the petgraph graph of a run's trials.
pub fn graph(c: &Catalog, universe: &ActionSet, trials: &[TrialRecord]) -> DiGraph<TreeNode, Refines> {
    let mut g = DiGraph::new();
    let root = g.add_node(node(0, universe.len(), Verdict::Pass, "start", 0));
    let sets: Vec<ActionSet> = trials.iter().map(|t| t.candidate.iter().map(|a| c.intern(a)).collect()).collect();
    let mut index: Vec<NodeIndex> = Vec::with_capacity(trials.len());
    for (i, t) in trials.iter().enumerate() {
        let purpose =
            serde_json::to_value(t.purpose).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let n = g.add_node(node(t.id, t.candidate.len(), t.outcome.verdict, &purpose, t.round));
        index.push(n);
        let Some(set) = sets.get(i) else { continue };
        // The parent must have finished before this trial was proposed: an earlier round.
        let parent = trials
            .iter()
            .zip(&sets)
            .zip(&index)
            .take(i)
            .filter(|((p, ps), _)| {
                p.round < t.round
                    && p.outcome.verdict == Verdict::Pass
                    && p.purpose != Purpose::Verify
                    && set.is_subset(ps)
            })
            .min_by_key(|((p, ps), _)| (ps.len(), std::cmp::Reverse(p.id)))
            .map(|(_, &n)| n)
            .unwrap_or(root);
        g.add_edge(parent, n, Refines);
    }
    g
}

fn node(trial: u64, size: usize, verdict: Verdict, purpose: &str, round: u64) -> TreeNode {
    TreeNode { trial, size, verdict, purpose: purpose.to_string(), round, depth: 0, x: 0.0 }
}

/// The graph in Graphviz DOT (`search.dot`).
pub fn to_dot(g: &DiGraph<TreeNode, Refines>) -> String {
    let colour = |_: &DiGraph<TreeNode, Refines>, (_, n): (NodeIndex, &TreeNode)| {
        let fill = if n.trial == 0 {
            "#b0bec5"
        } else if n.verdict == Verdict::Pass {
            "#a5d6a7"
        } else {
            "#ef9a9a"
        };
        format!("shape=box, style=filled, fillcolor=\"{fill}\"")
    };
    format!("{}", Dot::with_attr_getters(g, &[Config::EdgeNoLabel], &|_, _| String::new(), &colour))
}

/// Builds and lays out the search tree.
pub fn search_tree(c: &Catalog, universe: &ActionSet, trials: &[TrialRecord]) -> SearchTree {
    lay_out(&graph(c, universe, trials))
}

/// Lays out a tree rooted at node 0: depth by distance from the root, x by leaf order.
pub fn lay_out(g: &DiGraph<TreeNode, Refines>) -> SearchTree {
    let mut nodes: Vec<TreeNode> = g.node_weights().cloned().collect();
    let mut next_leaf = 0.0;
    let mut depth = 0;
    if g.node_count() > 0 {
        place(g, NodeIndex::new(0), &mut nodes, &mut next_leaf, &mut depth);
    }
    let edges = g
        .edge_indices()
        .filter_map(|e| g.edge_endpoints(e))
        .filter_map(|(a, b)| Some(TreeEdge { parent: g.node_weight(a)?.trial, child: g.node_weight(b)?.trial }))
        .collect();
    // next_leaf counts leaf slots; it is a small whole number stored as f64.
    SearchTree { nodes, edges, depth, width: next_leaf as usize }
}

/// Post-order placement with an explicit stack (a linear search makes a chain as deep as the
/// trial count, too deep for recursion); children in trial order so siblings read left to right.
fn place(
    g: &DiGraph<TreeNode, Refines>,
    root: NodeIndex,
    nodes: &mut [TreeNode],
    next_leaf: &mut f64,
    depth: &mut usize,
) {
    let mut xs: Vec<Option<f64>> = vec![None; nodes.len()];
    let mut stack: Vec<(NodeIndex, usize, bool)> = vec![(root, 0, false)];
    while let Some((n, d, expanded)) = stack.pop() {
        let mut children: Vec<NodeIndex> = g.neighbors(n).collect();
        children.sort();
        if !expanded && !children.is_empty() {
            stack.push((n, d, true));
            stack.extend(children.iter().rev().map(|&ch| (ch, d + 1, false)));
            continue;
        }
        *depth = (*depth).max(d);
        let x = if children.is_empty() {
            let x = *next_leaf;
            *next_leaf += 1.0;
            x
        } else {
            let placed: Vec<f64> = children.iter().filter_map(|ch| xs.get(ch.index()).copied().flatten()).collect();
            placed.iter().sum::<f64>() / placed.len().max(1) as f64
        };
        if let Some(slot) = xs.get_mut(n.index()) {
            *slot = Some(x);
        }
        if let Some(node) = nodes.get_mut(n.index()) {
            node.depth = d;
            node.x = x;
        }
    }
}
