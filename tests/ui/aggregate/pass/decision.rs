//! A handler that claims and releases unique values returns a `Decision`; one that only
//! produces events returns a `Vec`, in the same aggregate.

use factum::{Decision, Event, EventSet, Uniqueness};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
struct Registered {
    email: String,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
struct EmailChanged {
    email: String,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
struct Noted {
    text: String,
}

#[derive(EventSet, Clone, Debug, PartialEq)]
enum UserEvent {
    Registered(Registered),
    EmailChanged(EmailChanged),
    Noted(Noted),
}

#[derive(Default, Debug)]
struct User {
    email: Option<String>,
}

#[derive(Clone)]
struct Register(String);
#[derive(Clone)]
struct ChangeEmail(String);
#[derive(Clone)]
struct Note(String);

#[derive(Debug, PartialEq, thiserror::Error)]
enum UserError {
    #[error("already registered")]
    Registered,
    #[error("not registered")]
    NotRegistered,
}

#[factum::aggregate(category = "user", events = UserEvent, error = UserError)]
impl User {
    #[apply]
    fn registered(&mut self, e: &Registered) {
        self.email = Some(e.email.clone());
    }
    #[apply]
    fn email_changed(&mut self, e: &EmailChanged) {
        self.email = Some(e.email.clone());
    }
    #[apply]
    fn noted(&mut self, _: &Noted) {}

    #[handle]
    fn register(&self, cmd: Register) -> Result<Decision<UserEvent>, UserError> {
        if self.email.is_some() {
            return Err(UserError::Registered);
        }
        Ok(Decision::new([Registered { email: cmd.0.clone() }.into()]).claim("user-email", cmd.0))
    }

    #[handle]
    fn change_email(&self, cmd: ChangeEmail) -> Result<Decision<UserEvent>, UserError> {
        let old = self.email.as_ref().ok_or(UserError::NotRegistered)?;
        Ok(Decision::new([EmailChanged { email: cmd.0.clone() }.into()])
            .claim("user-email", cmd.0)
            .release("user-email", old))
    }

    #[handle]
    fn note(&self, cmd: Note) -> Result<Vec<UserEvent>, UserError> {
        Ok(vec![Noted { text: cmd.0 }.into()])
    }
}

pub fn main() {
    use factum::testing::given;

    given::<User>([])
        .when(Register("ada@example.com".into()))
        .then_decided(
            Decision::new([Registered { email: "ada@example.com".into() }.into()])
                .claim("user-email", "ada@example.com"),
        );
    let user = given::<User>([Registered { email: "ada@example.com".into() }.into()]);
    let decision = factum::Handles::handle(user.state(), ChangeEmail("ada@new.example".into())).unwrap();
    assert_eq!(
        decision.uniqueness(),
        &Uniqueness::new()
            .claim("user-email", "ada@new.example")
            .release("user-email", "ada@example.com")
    );
    given::<User>([]).when(Note("hi".into())).then([Noted { text: "hi".into() }.into()]);
    given::<User>([]).when(ChangeEmail("x@y".into())).then_error(UserError::NotRegistered);
}
