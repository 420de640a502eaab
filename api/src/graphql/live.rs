//! Live events as `talkChanges` sends them: resolved once per event and selection, however
//! many subscribers ask for it.
//!
//! A hundred subscribers with the same query would otherwise each resolve every event (and
//! copy its state) again. Nothing a `ChangeEvent` field answers depends on who reads it (which
//! events a subscriber sees is decided before they reach its stream), so subscribers whose
//! selections are the same get the same value: the first to reach an event resolves it, the
//! others copy the result from a small cache. Subscribers that keep up read an event within
//! moments of each other, so the cache holds only the latest events; one that lags behind it
//! resolves for itself.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_graphql::parser::types::{Directive, Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};

use async_graphql_value::Value as QueryValue;

use super::changes::ChangeEvent;
use crate::changes::LiveEvent;

/// What a subscriber selects of each event, written out: the selection set, the fragments it
/// spreads, the operation's variable definitions (their defaults), and the values of the
/// variables the selection uses. Two subscriptions with the same key get the same value for
/// every event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SelectionKey(Arc<str>);

impl SelectionKey {
    /// The key of the field `ctx` resolves (`talkChanges`).
    pub fn of(ctx: &Context<'_>) -> Self {
        let env = ctx.query_env;
        let selection = &ctx.item.node.selection_set.node;
        let mut fragments = BTreeMap::new();
        let mut variables = BTreeSet::new();
        walk(selection, &env.fragments, &mut fragments, &mut variables);
        let values: Vec<_> = variables
            .iter()
            .map(|name| (name.as_str(), env.variables.get(*name)))
            .collect();
        Self(Arc::from(format!(
            "{selection:?}\n{fragments:?}\n{:?}\n{values:?}",
            env.operation.node.variable_definitions
        )))
    }
}

/// Collects the fragments `set` spreads and the variables it uses, recursively.
fn walk<'a>(
    set: &'a SelectionSet,
    all: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    fragments: &mut BTreeMap<&'a str, &'a FragmentDefinition>,
    variables: &mut BTreeSet<&'a Name>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (_, value) in &field.node.arguments {
                    used_in(&value.node, variables);
                }
                directives(&field.node.directives, variables);
                walk(&field.node.selection_set.node, all, fragments, variables);
            }
            Selection::FragmentSpread(spread) => {
                directives(&spread.node.directives, variables);
                let name = spread.node.fragment_name.node.as_str();
                if let Some(definition) = all.get(name)
                    && !fragments.contains_key(name)
                {
                    fragments.insert(name, &definition.node);
                    directives(&definition.node.directives, variables);
                    walk(
                        &definition.node.selection_set.node,
                        all,
                        fragments,
                        variables,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                directives(&inline.node.directives, variables);
                walk(&inline.node.selection_set.node, all, fragments, variables);
            }
        }
    }
}

fn directives<'a>(directives: &'a [Positioned<Directive>], variables: &mut BTreeSet<&'a Name>) {
    for directive in directives {
        for (_, value) in &directive.node.arguments {
            used_in(&value.node, variables);
        }
    }
}

fn used_in<'a>(value: &'a QueryValue, variables: &mut BTreeSet<&'a Name>) {
    match value {
        QueryValue::Variable(name) => {
            variables.insert(name);
        }
        QueryValue::List(items) => {
            for item in items {
                used_in(item, variables);
            }
        }
        QueryValue::Object(fields) => {
            for item in fields.values() {
                used_in(item, variables);
            }
        }
        _ => {}
    }
}

/// Resolved events kept, counting each selection of each event once.
const KEPT: usize = 1024;

/// Events as subscriptions resolved them, by `seq` and selection; one per process.
pub struct Resolved(quick_cache::sync::Cache<(i64, SelectionKey), Value>);

impl Resolved {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(quick_cache::sync::Cache::new(KEPT)))
    }
}

/// One event for one subscriber.
pub struct LiveChange {
    pub event: Arc<LiveEvent>,
    pub selection: SelectionKey,
    /// Where resolutions are shared; each subscriber resolves for itself without it.
    pub resolved: Option<Arc<Resolved>>,
}

impl OutputType for LiveChange {
    fn type_name() -> Cow<'static, str> {
        <ChangeEvent as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <ChangeEvent as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let event = ChangeEvent(Arc::clone(&self.event));
        let Some(resolved) = &self.resolved else {
            return OutputType::resolve(&event, ctx, field).await;
        };
        let key = (self.event.model.seq, self.selection.clone());
        if let Some(value) = resolved.0.get(&key) {
            return Ok(value);
        }
        let value = OutputType::resolve(&event, ctx, field).await?;
        resolved.0.insert(key, value.clone());
        Ok(value)
    }
}
