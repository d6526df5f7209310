//! The action hierarchy: service -> access level -> action, as a petgraph tree.
//!
//! Why: a workload touches a few services out of the dozens a managed policy grants, so `auto`
//! removes the services no evidence touches in one trial (their subtrees). Groups are not cut
//! along the tree: needed actions would then sit together, which the group-testing posterior
//! (needed actions placed uniformly) does not expect; the catalog's alphabetical order spreads
//! them.

use super::{AccessLevel, Catalog};
use crate::actions::ActionSet;
use crate::catalog::ActionId;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;
use std::collections::BTreeMap;

/// One service's actions by (rank of the level, level), as (name, id).
type Levels = BTreeMap<(u8, Option<AccessLevel>), Vec<(String, ActionId)>>;

/// A node of the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// The root: the set the tree was built from.
    Root,
    /// A service prefix.
    Service(String),
    /// An access level within its parent service (`None`: the catalog does not say).
    Level(Option<AccessLevel>),
    /// An action.
    Action(ActionId),
}

/// The hierarchy of a set of actions.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    graph: DiGraph<Node, ()>,
    root: NodeIndex,
}

impl Hierarchy {
    /// Builds the tree over `set`: services in prefix order, levels from least to most risky
    /// ([`AccessLevel::ALL`]: List, Read, Tagging, Write, Permissions management; unknown
    /// last), actions in name order.
    pub fn new(catalog: &Catalog, set: &ActionSet) -> Hierarchy {
        let mut tree: BTreeMap<String, Levels> = BTreeMap::new();
        for id in set.iter() {
            let level = catalog.level(id);
            // The order of AccessLevel::ALL, unknown levels last.
            let rank =
                level.and_then(|l| AccessLevel::ALL.iter().position(|&x| x == l)).unwrap_or(AccessLevel::ALL.len());
            tree.entry(catalog.prefix_of(id))
                .or_default()
                .entry((u8::try_from(rank).unwrap_or(u8::MAX), level))
                .or_default()
                .push((catalog.name(id), id));
        }
        let mut graph = DiGraph::new();
        let root = graph.add_node(Node::Root);
        // petgraph's DFS stacks a node's children as `neighbors` lists them (newest first), so
        // it visits them in the order they were added.
        for (service, levels) in tree {
            let s = graph.add_node(Node::Service(service));
            graph.add_edge(root, s, ());
            for ((_, level), mut actions) in levels {
                let l = graph.add_node(Node::Level(level));
                graph.add_edge(s, l, ());
                actions.sort();
                for (_, id) in actions {
                    let a = graph.add_node(Node::Action(id));
                    graph.add_edge(l, a, ());
                }
            }
        }
        Hierarchy { graph, root }
    }

    /// Each service's actions (its subtree's leaves), in prefix order.
    pub fn services(&self) -> Vec<(String, ActionSet)> {
        let mut out = Vec::new();
        for s in self.graph.neighbors(self.root) {
            let Some(Node::Service(name)) = self.graph.node_weight(s) else { continue };
            let mut set = ActionSet::new();
            let mut dfs = Dfs::new(&self.graph, s);
            while let Some(n) = dfs.next(&self.graph) {
                if let Some(Node::Action(id)) = self.graph.node_weight(n) {
                    set.insert(*id);
                }
            }
            out.push((name.clone(), set));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_come_grouped_by_service_then_access_level() {
        let c = Catalog::embedded();
        let names = [
            "s3:PutObject",
            "ec2:DescribeVpcs",
            "s3:GetObject",
            "ec2:CreateTags",
            "s3:ListAllMyBuckets",
            "ec2:RunInstances",
            "s3:PutBucketPolicy",
        ];
        let set: ActionSet = names.iter().map(|a| c.lookup(a).unwrap()).collect();
        let h = Hierarchy::new(c, &set);
        let services = h.services();
        assert_eq!(services.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["ec2", "s3"]);
        let names = |set: &ActionSet| set.iter().map(|id| c.name(id)).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(
            names(&services[0].1),
            ["ec2:CreateTags", "ec2:DescribeVpcs", "ec2:RunInstances"].map(String::from).into()
        );
        assert_eq!(services[1].1.len(), 4);
        // Each service's subtree has one node per access level its actions have.
        let levels = |s: NodeIndex| h.graph.neighbors(s).count();
        let per_service: Vec<usize> = h.graph.neighbors(h.root).map(levels).collect();
        assert_eq!(per_service.iter().sum::<usize>(), 3 + 4, "{per_service:?}");
        assert!(Hierarchy::new(c, &ActionSet::new()).services().is_empty());
    }
}
