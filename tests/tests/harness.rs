//! The given / when / then harness, including what it says when a test fails.

use factum::testing::given;
use factum_tests::domain::{
    Account, AccountError, Deposit, Deposited, Open, Opened, Withdraw, WithdrawalRejected,
    Withdrawn,
};

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("the assertion should have failed");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn opened() -> factum_tests::domain::AccountEvent {
    Opened {
        owner: "ada".into(),
    }
    .into()
}

#[test]
fn given_when_then_passes_on_the_right_events() {
    let state = given::<Account>([
        opened(),
        Deposited {
            cents: 50,
            memo: None,
        }
        .into(),
    ])
    .when(Withdraw { cents: 20 })
    .then([Withdrawn { cents: 20 }.into()]);
    assert_eq!(state.balance, 30);
    given::<Account>([])
        .when(Deposit { cents: 5 })
        .then_error(AccountError::NotOpen);
    given::<Account>([opened()])
        .when(Withdraw { cents: 1 })
        .then_error_matches(|e| matches!(e, AccountError::InsufficientFunds { requested: 1, .. }));
    given::<Account>([opened()])
        .when(Open {
            owner: "again".into(),
        })
        .then_error(AccountError::AlreadyOpen);
}

#[test]
fn a_wrong_event_shows_a_diff() {
    let message = panic_message(|| {
        given::<Account>([opened()])
            .when(Deposit { cents: 5 })
            .then([
                Deposited {
                    cents: 7,
                    memo: None,
                }
                .into(),
                Withdrawn { cents: 1 }.into(),
            ]);
    });
    assert!(
        message.contains("the command produced other events than expected"),
        "{message}"
    );
    assert!(
        message.contains("- [0] Deposited(Deposited { cents: 7, memo: None })"),
        "{message}"
    );
    assert!(
        message.contains("+ [0] Deposited(Deposited { cents: 5, memo: None })"),
        "{message}"
    );
    assert!(
        message.contains("- [1] Withdrawn(Withdrawn { cents: 1 })"),
        "{message}"
    );
}

#[test]
fn an_unexpected_refusal_or_acceptance_is_explained() {
    let refused = panic_message(|| {
        given::<Account>([]).when(Deposit { cents: 5 }).then([]);
    });
    assert!(
        refused.contains("the command was refused: NotOpen"),
        "{refused}"
    );

    let accepted = panic_message(|| {
        given::<Account>([opened()])
            .when(Deposit { cents: 5 })
            .then_error(AccountError::NotPositive);
    });
    assert!(
        accepted.contains("expected the command to be refused with NotPositive"),
        "{accepted}"
    );
    assert!(accepted.contains("+ [0] Deposited"), "{accepted}");

    let other = panic_message(|| {
        given::<Account>([])
            .when(Deposit { cents: 5 })
            .then_error(AccountError::AlreadyOpen);
    });
    assert!(other.contains("expected error: AlreadyOpen"), "{other}");
    assert!(other.contains("actual error:   NotOpen"), "{other}");
}

#[test]
fn rejections_can_be_recorded_as_facts() {
    use factum::Handles;
    let state = given::<Account>([opened()]).state().clone();
    let error = state.handle(Withdraw { cents: 9 }).unwrap_err();
    let recorded = state.rejection(&Withdraw { cents: 9 }, &error);
    assert_eq!(
        recorded,
        Some(
            WithdrawalRejected {
                requested: 9,
                balance: 0
            }
            .into()
        )
    );
    assert_eq!(
        state.rejection(&Withdraw { cents: 9 }, &AccountError::NotOpen),
        None
    );
}

#[test]
fn recorded_refusals_are_asserted_with_their_event() {
    given::<Account>([opened()])
        .when(Withdraw { cents: 9 })
        .then_rejected(
            AccountError::InsufficientFunds {
                balance: 0,
                requested: 9,
            },
            WithdrawalRejected {
                requested: 9,
                balance: 0,
            }
            .into(),
        );
    let wrong = panic_message(|| {
        given::<Account>([opened()])
            .when(Withdraw { cents: 9 })
            .then_rejected(
                AccountError::InsufficientFunds {
                    balance: 0,
                    requested: 9,
                },
                WithdrawalRejected {
                    requested: 9,
                    balance: 1,
                }
                .into(),
            );
    });
    assert!(
        wrong.contains("the refusal was recorded differently"),
        "{wrong}"
    );
    assert!(
        wrong.contains("+ [0] WithdrawalRejected(WithdrawalRejected { requested: 9, balance: 0 })"),
        "{wrong}"
    );
}
