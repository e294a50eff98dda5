//! Queries parsed and validated once, kept by their text.
//!
//! A read-model API answers the same few query texts over and over: an application's
//! queries are fixed strings, and what changes is in their variables. Parsing a query
//! and checking it against the validation rules took about as long as the SQL of a
//! 50-row page, so the router keeps each query's parsed document by its text and
//! operation name, and hands it to the schema instead of the text.
//!
//! Validation is skipped only where its outcome cannot differ: a request without
//! variables whose text already passed every rule. Such a request is answered from its
//! compiled [`Plan`] when it has the common shape (see [`super::direct`]), and otherwise
//! runs on a second instance of the same schema built with [`ValidationMode::Fast`],
//! which still computes and enforces the depth and complexity limits. Every other
//! request is validated in full: one whose text has a plan on a third instance that then
//! answers it from the plan, the rest on the general executor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::dynamic::Schema;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ValidationMode, Variables};

use super::Api;
use super::direct::{Plan, PlanRequest};

/// How many distinct queries are kept. When it is full the cache starts again empty, so
/// a client sending endless distinct texts costs memory for at most this many.
const CAPACITY: usize = 512;
/// The longest query text kept (an application's queries are far shorter). Longer texts
/// are parsed and validated every time, so that padded queries cannot make the cache
/// hold more than `CAPACITY` times this.
const MAX_TEXT: usize = 16 * 1024;

/// The query text and the operation name: what a parsed document stands for.
type Key = (String, Option<String>);

struct Known {
    document: ExecutableDocument,
    /// Whether a request of this text without variables passed full validation.
    validated: bool,
    /// How to answer it without the general executor, if it has the shape for that.
    plan: Option<Arc<Plan>>,
}

/// What the cache knows of a request's text.
enum Seen<'a> {
    /// A plan, for a request without variables whose text passed full validation.
    Planned(Arc<Plan>, &'a Arc<Api>),
    /// The document, whether it passed full validation without variables, and its plan.
    Parsed(ExecutableDocument, bool, Option<Arc<Plan>>),
    New,
}

/// The API the plans run over, and the schema instance that validates a request and
/// then answers it from its plan (see [`RunPlans`](super::direct::RunPlans)).
struct Plans {
    api: Arc<Api>,
    schema: Schema,
}

/// The schema in both validation modes, and the documents seen.
pub(crate) struct Executor {
    strict: Schema,
    fast: Schema,
    /// `None`: no plans.
    plans: Option<Plans>,
    known: Mutex<HashMap<Key, Known>>,
}

impl Executor {
    /// `build` makes the schema with the given validation mode.
    pub(crate) fn new<E>(build: impl Fn(ValidationMode) -> Result<Schema, E>) -> Result<Self, E> {
        Ok(Executor {
            strict: build(ValidationMode::Strict)?,
            fast: build(ValidationMode::Fast)?,
            plans: None,
            known: Mutex::default(),
        })
    }

    /// Answers validated queries of the common shape through plans over `api` (see
    /// [`super::direct`]); `schema` is the API's schema with the
    /// [`RunPlans`](super::direct::RunPlans) extension.
    pub(crate) fn with_plans(mut self, api: Arc<Api>, schema: Schema) -> Self {
        self.plans = Some(Plans { api, schema });
        self
    }

    fn known(&self) -> MutexGuard<'_, HashMap<Key, Known>> {
        // The map holds no invariant that a panicking holder could break.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `request`, reusing what is known of its text.
    pub(crate) async fn execute(&self, mut request: Request) -> Response {
        if request.query.len() > MAX_TEXT {
            return self.strict.execute(request).await;
        }
        let key = (request.query.clone(), request.operation_name.clone());
        let without_variables = request.variables.is_empty();
        let seen = match (self.known().get(&key), &self.plans) {
            (
                Some(Known {
                    plan: Some(plan),
                    validated: true,
                    ..
                }),
                Some(plans),
            ) if without_variables => Seen::Planned(plan.clone(), &plans.api),
            (Some(known), _) => {
                Seen::Parsed(known.document.clone(), known.validated, known.plan.clone())
            }
            (None, _) => Seen::New,
        };
        // The schema to run it on, and the document to keep if it succeeds (when it is
        // not kept yet).
        let (schema, new_document) = match seen {
            Seen::Planned(plan, api) => match plan.run(api, &Variables::default()).await {
                Some(response) => return response,
                // A stored value the plan cannot answer: the general executor reports it.
                None => {
                    let document = self.known().get(&key).map(|k| k.document.clone());
                    match document {
                        Some(document) => {
                            request.set_parsed_query(document);
                            return self.fast.execute(request).await;
                        }
                        None => (&self.strict, None),
                    }
                }
            },
            Seen::Parsed(document, true, None) if without_variables => {
                request.set_parsed_query(document);
                return self.fast.execute(request).await;
            }
            Seen::Parsed(document, _, plan) => {
                request.set_parsed_query(document);
                match (plan, &self.plans) {
                    // Validated in full with its variables, then answered from the plan.
                    (Some(plan), Some(plans)) => {
                        let variables = request.variables.clone();
                        request = request.data(PlanRequest { plan, variables });
                        (&plans.schema, None)
                    }
                    _ => (&self.strict, None),
                }
            }
            // A text that does not parse is left to the schema to report.
            Seen::New => match request.parsed_query() {
                Ok(document) => (&self.strict, Some(document.clone())),
                Err(_) => return self.strict.execute(request).await,
            },
        };
        let response = schema.execute(request).await;
        // No errors at all: in particular, it passed validation.
        if response.errors.is_empty() {
            let operation = key.1.clone();
            let mut known = self.known();
            let entry = match new_document {
                Some(document) => {
                    if known.len() >= CAPACITY {
                        known.clear();
                    }
                    let plan = self.plans.as_ref().and_then(|plans| {
                        Plan::compile(&plans.api, &document, operation.as_deref()).map(Arc::new)
                    });
                    Some(known.entry(key).or_insert(Known {
                        document,
                        validated: false,
                        plan,
                    }))
                }
                None => known.get_mut(&key),
            };
            if let Some(entry) = entry {
                entry.validated |= without_variables;
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::dynamic::{Field, FieldFuture, InputValue, Object, TypeRef};
    use async_graphql::{Value, Variables};
    use serde_json::json;

    fn executor() -> Executor {
        Executor::new(|mode| {
            let double = Field::new("double", TypeRef::named_nn(TypeRef::INT), |ctx| {
                FieldFuture::new(async move {
                    let n = ctx.args.try_get("n")?.i64()?;
                    Ok(Some(Value::from(n * 2)))
                })
            })
            .argument(InputValue::new("n", TypeRef::named_nn(TypeRef::INT)));
            Schema::build("Query", None, None)
                .register(Object::new("Query").field(double))
                .validation_mode(mode)
                .finish()
        })
        .unwrap()
    }

    fn validated(executor: &Executor, query: &str) -> Option<bool> {
        executor
            .known()
            .get(&(query.to_owned(), None))
            .map(|k| k.validated)
    }

    #[tokio::test]
    async fn a_known_text_gives_the_same_answer_without_being_validated_again() {
        let executor = executor();
        let query = "{ double(n: 21) }";
        for _ in 0..3 {
            let response = executor.execute(Request::new(query)).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            assert_eq!(response.data.into_json().unwrap(), json!({ "double": 42 }));
        }
        assert_eq!(validated(&executor, query), Some(true));
    }

    #[tokio::test]
    async fn long_texts_are_answered_but_not_kept() {
        let executor = executor();
        let query = format!("{{ double(n: 3) }} #{}", "x".repeat(MAX_TEXT));
        let response = executor.execute(Request::new(query.as_str())).await;
        assert_eq!(response.data.into_json().unwrap(), json!({ "double": 6 }));
        assert_eq!(validated(&executor, &query), None);
    }

    #[tokio::test]
    async fn texts_that_fail_validation_fail_every_time_and_are_not_kept() {
        let executor = executor();
        // Two fields under one name with different arguments: only full validation
        // refuses this (the fast mode would run it).
        let query = "{ double(n: 1) double(n: 2) }";
        assert!(executor.fast.execute(query).await.errors.is_empty());
        for _ in 0..3 {
            let response = executor.execute(Request::new(query)).await;
            assert!(!response.errors.is_empty());
        }
        assert_eq!(validated(&executor, query), None);
    }

    #[tokio::test]
    async fn requests_with_variables_share_the_document_but_are_always_validated() {
        let executor = executor();
        let query = "query($n: Int!) { double(n: $n) }";
        let with = |n: serde_json::Value| {
            Request::new(query).variables(Variables::from_json(json!({ "n": n })))
        };
        let response = executor.execute(with(json!(4))).await;
        assert_eq!(response.data.into_json().unwrap(), json!({ "double": 8 }));
        assert_eq!(validated(&executor, query), Some(false));
        let response = executor.execute(with(json!("four"))).await;
        assert!(!response.errors.is_empty());
        let response = executor.execute(Request::new(query)).await;
        assert!(
            !response.errors.is_empty(),
            "a required variable is missing"
        );
        assert_eq!(validated(&executor, query), Some(false));
    }
}
