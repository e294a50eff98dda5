#![doc = include_str!("../../docs/testing.md")]

use std::fmt::{Debug, Write};

use crate::{Aggregate, Decision, Handles};

/// Starts a test from the events an aggregate has already seen.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut state = A::default();
    for event in events {
        state.apply(&event);
    }
    Given { state }
}

/// An aggregate rebuilt from the given events.
#[derive(Debug)]
#[must_use = "a test needs `.when(command)` and then an assertion"]
pub struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` against the state.
    pub fn when<C: Clone>(self, command: C) -> When<A>
    where
        A: Handles<C>,
    {
        let outcome = self.state.handle(command.clone());
        let recorded = match &outcome {
            Err(error) => self.state.rejection(&command, error),
            Ok(_) => None,
        };
        When {
            state: self.state,
            outcome,
            recorded,
        }
    }

    /// The state, for assertions about it.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of a command.
#[derive(Debug)]
#[must_use = "assert the outcome with `.then(...)` or `.then_error(...)`"]
pub struct When<A: Aggregate> {
    state: A,
    outcome: Result<Decision<A::Event>, A::Error>,
    /// The event a refusal is recorded as, for commands that record refusals.
    recorded: Option<A::Event>,
}

impl<A: Aggregate> When<A>
where
    A::Event: Debug + PartialEq,
    A::Error: Debug,
{
    /// Asserts that the command produced exactly `expected`, in order; on a mismatch the
    /// panic message shows expected and actual events side by side. Returns the state
    /// with the new events applied, for further checks.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<_> = expected.into_iter().collect();
        let actual = match self.outcome {
            Ok(decision) => decision.into_parts().0,
            Err(error) => panic!(
                "expected {} event(s), but the command was refused: {error:?}\n{}",
                expected.len(),
                diff(&expected, &[])
            ),
        };
        if actual != expected {
            panic!(
                "the command produced other events than expected\n{}",
                diff(&expected, &actual)
            );
        }
        let mut state = self.state;
        for event in &actual {
            state.apply(event);
        }
        state
    }

    /// Asserts that the command decided exactly `expected`: the same events, in order, and
    /// the same unique values claimed and released. Returns the state with the new events
    /// applied.
    #[track_caller]
    pub fn then_decided(self, expected: Decision<A::Event>) -> A {
        let (expected_events, expected_unique) = expected.into_parts();
        if let Ok(decision) = &self.outcome
            && decision.uniqueness() != &expected_unique
        {
            panic!(
                "the command decided other unique values than expected\n  expected: {expected_unique:?}\n  actual:   {:?}",
                decision.uniqueness()
            );
        }
        self.then(expected_events)
    }

    /// Asserts that the command was refused with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error)
    where
        A::Error: PartialEq,
    {
        match self.outcome {
            Err(error) if error == expected => {}
            Err(error) => panic!(
                "the command was refused, but not as expected\n  expected error: {expected:?}\n  actual error:   {error:?}"
            ),
            Ok(decision) => panic!(
                "expected the command to be refused with {expected:?}, but it produced {} event(s)\n{}",
                decision.events().len(),
                diff(&[], decision.events())
            ),
        }
    }

    /// Asserts that the command was refused with `expected` and that the refusal is
    /// recorded as `event` (commands with `#[handle(record_rejection = ...)]`).
    #[track_caller]
    pub fn then_rejected(self, expected: A::Error, event: A::Event)
    where
        A::Error: PartialEq,
    {
        match (&self.outcome, self.recorded) {
            (Err(error), Some(recorded)) if *error == expected && recorded == event => {}
            (Err(error), recorded) if *error == expected => panic!(
                "the command was refused as expected, but the refusal was recorded differently\n{}",
                diff(&[event], recorded.as_slice())
            ),
            (Err(error), _) => panic!(
                "the command was refused, but not as expected\n  expected error: {expected:?}\n  actual error:   {error:?}"
            ),
            (Ok(decision), _) => panic!(
                "expected the command to be refused with {expected:?}, but it produced {} event(s)\n{}",
                decision.events().len(),
                diff(&[], decision.events())
            ),
        }
    }

    /// Asserts that the command was refused with an error `check` accepts.
    #[track_caller]
    pub fn then_error_matches(self, check: impl FnOnce(&A::Error) -> bool) {
        match self.outcome {
            Err(error) if check(&error) => {}
            Err(error) => panic!("the command was refused with an unexpected error: {error:?}"),
            Ok(decision) => panic!(
                "expected the command to be refused, but it produced {} event(s)\n{}",
                decision.events().len(),
                diff(&[], decision.events())
            ),
        }
    }
}

/// A line-by-line comparison: `  ` same, `- ` expected only, `+ ` actual only.
fn diff<E: Debug + PartialEq>(expected: &[E], actual: &[E]) -> String {
    let mut out = String::from("  (- expected, + actual)\n");
    for i in 0..expected.len().max(actual.len()) {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if e == a => {
                let _ = writeln!(out, "    [{i}] {e:?}");
            }
            (e, a) => {
                if let Some(e) = e {
                    let _ = writeln!(out, "  - [{i}] {e:?}");
                }
                if let Some(a) = a {
                    let _ = writeln!(out, "  + [{i}] {a:?}");
                }
            }
        }
    }
    out
}
