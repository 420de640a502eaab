//! Live events as `talkChanges` sends them: resolved once per event and selection, and
//! serialized once, however many subscribers ask for it.
//!
//! A hundred subscribers with the same query would otherwise each resolve every event (and
//! copy its state) again. Nothing a `ChangeEvent` field answers depends on who reads it (which
//! events a subscriber sees is decided before they reach its stream), so subscribers whose
//! selections are the same get the same value: the first to reach an event resolves it and
//! writes it as JSON text, the others use the result the event keeps. Over a websocket, their
//! messages carry that text as it is (see `super::splices`).

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
use super::splices::Splices;
use crate::changes::LiveEvent;

/// What a subscriber selects of each event, written out: the selection set, the fragments it
/// spreads, the operation's variable definitions (their defaults), and the values of the
/// variables the selection uses. Two subscriptions with the same key get the same value for
/// every event.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Distinct selections an event keeps the value of; a subscriber with yet another one
/// resolves the event itself.
const SELECTIONS_KEPT: usize = 16;

/// One event for one subscriber.
pub struct LiveChange {
    pub event: Arc<LiveEvent>,
    pub selection: SelectionKey,
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
        let resolved = match self.event.resolved(&self.selection.0) {
            Some(resolved) => resolved,
            None => {
                let value =
                    OutputType::resolve(&ChangeEvent(Arc::clone(&self.event)), ctx, field).await?;
                match self
                    .event
                    .keep_resolved(&self.selection.0, value, SELECTIONS_KEPT)
                {
                    Ok(resolved) => resolved,
                    Err(value) => return Ok(value),
                }
            }
        };
        // On a websocket, the message carries the text the event keeps rather than the value
        // serialized again (see `super::splices`).
        if let Some(splices) = ctx.data_opt::<Arc<Splices>>()
            && let Some(placeholder) = splices.register(&resolved.text)
        {
            return Ok(Value::String(placeholder));
        }
        Ok(resolved.value.clone())
    }
}
